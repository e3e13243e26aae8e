"""Reduced load test (the full one is ``python -m bench.load``): concurrent callers through the
Python API, every question answered (or refused) without an error."""

from __future__ import annotations

import pytest

from bench.load import api_asker, question_pool, run_load


def test_40_questions_at_8_concurrent_callers_extractive(pipeline):
    r = run_load(api_asker(pipeline, "extractive"), question_pool(), 40, 8)
    assert r["errors"] == 0, r["error_samples"]
    assert r["n"] == 40 and r["throughput_qps"] > 0


@pytest.mark.slow
def test_16_questions_at_8_concurrent_callers_local_model(pipeline):
    """The llama.cpp model is not thread-safe: concurrent callers must queue, not fail."""
    r = run_load(api_asker(pipeline, "local"), question_pool()[::5], 16, 8)
    assert r["errors"] == 0, r["error_samples"]
