"""Rolling (sliding-window, sinks) and paged KV caches, and the KV-cache formula (lesson 11)."""

import pytest
import torch

import attnkit as ak
from attnkit.caches import _apply_rotary


def _lm(window=None, kv_heads=2, seed=0):
    torch.manual_seed(seed)
    return ak.RotaryLM(17, d_model=16, num_heads=4, num_kv_heads=kv_heads, num_layers=2, window=window)


def test_kv_cache_bytes_formula_and_door():
    assert ak.kv_cache_bytes(32, 32, 128, seq_len=32768) == 16 * 2**30
    assert ak.kv_cache_bytes(32, 8, 128, seq_len=32768) == 4 * 2**30
    assert ak.kv_cache_bytes(2, 3, 4, seq_len=5, batch_size=6, bytes_per_value=4) == 2 * 2 * 3 * 4 * 5 * 6 * 4
    with pytest.raises(ValueError, match="num_kv_heads must be at least 1"):
        ak.kv_cache_bytes(2, 0, 4)
    with pytest.raises(TypeError, match="head_dim must be an integer"):
        ak.kv_cache_bytes(2, 2, 4.0)


def test_rotary_scores_depend_on_distance_only():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 8, generator=g, dtype=torch.float64), torch.randn(3, 8, generator=g, dtype=torch.float64)
    pos_q, pos_k = torch.tensor([4, 9, 2]), torch.tensor([1, 0, 7])
    scores = _apply_rotary(q, pos_q) @ _apply_rotary(k, pos_k).T
    shifted = _apply_rotary(q, pos_q + 500) @ _apply_rotary(k, pos_k + 500).T
    torch.testing.assert_close(scores, shifted)
    with pytest.raises(ValueError, match="even head width"):
        _apply_rotary(torch.randn(2, 3), torch.arange(2))


def test_rolling_slots_positions_and_flat_memory():
    cache = ak.RollingKVCache(1, 1, 1, 2, window=3, sinks=2)
    assert [cache.slot(p) for p in range(8)] == [0, 1, 2, 3, 4, 2, 3, 4]
    nbytes = cache.nbytes
    for t in range(8):
        keys, values, positions = cache.update(0, torch.full((1, 1, 1, 2), float(t)),
                                               torch.full((1, 1, 1, 2), float(t)))
    # slots hold tokens 0, 1 (sinks) and 5, 6, 7 (window, in ring order 5, 6, 7)
    assert keys[0, 0, :, 0].tolist() == [0.0, 1.0, 5.0, 6.0, 7.0]
    # sinks are placed just before the oldest window token (5): positions 3 and 4
    assert positions.tolist() == [3, 4, 5, 6, 7]
    assert cache.nbytes == nbytes and cache.seq_len == 8


def test_rolling_without_eviction_equals_full_cache():
    lm = _lm()
    prompt = torch.tensor([[1, 5, 2, 9]])
    full = lm.generate(prompt, 20)
    for sinks in (0, 3):
        rolling = ak.RollingKVCache(2, 1, 2, 4, window=24 - sinks, sinks=sinks)
        assert torch.equal(lm.generate(prompt, 20, cache=rolling), full)


@pytest.mark.parametrize("window", [1, 3, 7])
def test_rolling_cache_equals_sliding_window_model(window):
    lm = _lm(window=window, seed=window)
    ids = torch.randint(0, 17, (2, 30), generator=torch.Generator().manual_seed(window))
    with torch.no_grad():
        dense = lm(ids)  # every position at once, with the window mask
    rolling = ak.RollingKVCache(2, 2, 2, 4, window=window)
    torch.testing.assert_close(lm.forward_cached(ids, rolling), dense, atol=1e-5, rtol=1e-4)
    assert rolling.keys.shape[3] == window  # it never held more than the window


def test_rolling_door_checks():
    cache = ak.RollingKVCache(2, 1, 2, 4, window=3)
    with pytest.raises(ValueError, match=r"key must be \(B, Hkv, t, Dh\) = \(1, 2, t, 4\)"):
        cache.update(0, torch.randn(1, 3, 1, 4), torch.randn(1, 3, 1, 4))
    with pytest.raises(ValueError, match="layer must be an int in"):
        cache.update(2, torch.randn(1, 2, 1, 4), torch.randn(1, 2, 1, 4))
    with pytest.raises(ValueError, match="window must be at least 1"):
        ak.RollingKVCache(2, 1, 2, 4, window=0)


def test_paged_decode_equals_contiguous_and_wastes_less():
    lm = _lm(kv_heads=1)
    pool = ak.PagedKVCache(2, 1, 4, block_size=4, num_blocks=32)
    requests = [(torch.tensor([[1, 2, 3]]), 9), (torch.tensor([[4, 5]]), 2), (torch.tensor([[6]]), 14)]
    stored = []
    for prompt, n in requests:
        paged = lm.generate(prompt, n, cache=pool.sequence())
        contiguous = lm.generate(prompt, n, cache=lm.new_cache(1, 20))
        assert torch.equal(paged, contiguous)
        stored.append(prompt.shape[1] + n - 1)
    assert stored == [11, 3, 14]
    blocks = [len(t) for t in pool.block_tables.values()]
    assert blocks == [-(-s // 4) for s in stored] == [3, 1, 4]
    assert pool.nbytes_in_use == sum(blocks) * 4 * lm.cache_bytes_per_token()
    assert pool.nbytes_in_use < 3 * 20 * lm.cache_bytes_per_token()  # a contiguous cache of 20 each


def test_paged_interleaved_sequences_and_free():
    pool = ak.PagedKVCache(1, 1, 2, block_size=2, num_blocks=4)
    a, b = pool.sequence(), pool.sequence()
    g = torch.Generator().manual_seed(0)
    ka = torch.randn(1, 1, 3, 2, generator=g)
    kb = torch.randn(1, 1, 2, 2, generator=g)
    pool._update(a.seq_id, 0, ka[:, :, :1], ka[:, :, :1])
    b.update(0, kb, kb)  # b takes the next free block between a's tokens
    keys, _, positions = a.update(0, ka[:, :, 1:], ka[:, :, 1:])
    assert torch.equal(keys, ka) and positions.tolist() == [0, 1, 2]
    assert pool.block_tables == {0: [0, 2], 1: [1]}
    pool.free(0)
    assert pool.blocks_in_use == 1 and sorted(pool.free_blocks) == [0, 2, 3]
    with pytest.raises(ValueError, match="no sequence 0"):
        pool.free(0)
    with pytest.raises(RuntimeError, match="out of blocks"):
        b.update(0, torch.randn(1, 1, 7, 2), torch.randn(1, 1, 7, 2))


# --- checkers of lesson 11 ------------------------------------------------------------


def test_checkers_accept_references_and_name_mistakes():
    def roll(q, k, v, ck, cv, t, slot_shift=0):
        w = ck.shape[-2]
        ck, cv = ck.clone(), cv.clone()
        ck[..., (t + slot_shift) % w, :] = k[..., 0, :]
        cv[..., (t + slot_shift) % w, :] = v[..., 0, :]
        n = min(t + 1, w)
        return ak.attention(q, ck[..., :n, :], cv[..., :n, :])[0], ck, cv

    assert ak.check.rolling_attention_step.evaluate(roll).passed
    verdict = ak.check.rolling_attention_step.evaluate(lambda *a: roll(*a, slot_shift=1))
    assert verdict.status == "fail" and "off by one" in verdict.message
    assert ak.check.expand_kv_heads.evaluate(lambda kv, h: kv.repeat_interleave(h // kv.shape[1], 1)).passed
    verdict = ak.check.expand_kv_heads.evaluate(lambda kv, h: kv.repeat(1, h // kv.shape[1], 1, 1))
    assert "repeat_interleave" in verdict.message
    assert ak.check.kv_cache_bytes.evaluate(lambda L, h, d, T, B, b: 2 * L * h * d * T * B * b).passed
    verdict = ak.check.kv_cache_bytes.evaluate(lambda L, h, d, T, B, b: h * d * T * B * b * 2)
    assert "forgot the layers" in verdict.message
    table = {"MHA": 16.0, "GQA": 4.0, "MQA": 0.5}
    assert ak.check.llm_kv_table.evaluate(lambda: table).passed
    verdict = ak.check.llm_kv_table.evaluate(lambda: {k: v / 2 for k, v in table.items()})
    assert "only keys or only values" in verdict.message

    def stub(*args):
        raise NotImplementedError()

    for checker in (ak.check.expand_kv_heads, ak.check.rolling_attention_step, ak.check.kv_cache_bytes,
                    ak.check.llm_kv_table):
        assert checker.evaluate(stub).status == "todo"


def test_draw_rolling_cache_and_explorer():
    fig = ak.widgets.draw_rolling_cache(window=4, sinks=2, seen=11, length=12)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="window must be at least 1"):
        ak.widgets.draw_rolling_cache(window=0)
    explorer = ak.widgets.rolling_cache_explorer(max_seen=10)
    assert "Rolling-cache explorer" in repr(explorer)
    seen, window, sinks = explorer.widget.children[0].children
    window.value, sinks.value, seen.value = 3, 1, 9
    title = explorer.widget.last_figure.axes[1].get_title()
    assert "cache slots (4)" in title  # 1 sink + a window of 3, redrawn when the sliders moved
