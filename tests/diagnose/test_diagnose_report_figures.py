"""The coherence panel's group means (against a loop over sample pairs) and the self-contained
``report.html`` that ``diagnose --out`` writes."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from numerics.apps.diagnose import DiagnoseOptions, diagnose_curvature
from numerics.apps.diagnose.api import write_outputs
from numerics.apps.diagnose.plot_coherence import FULL_MATRIX_MAX, group_means
from numerics.apps.diagnose.report_html import NUMBERS


def _report(n_retain: int, n_forget: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n_retain + n_forget, 12))
    u[:, :3] += 2.0 * rng.standard_normal((n_retain + n_forget, 1))  # shared directions
    return diagnose_curvature(u[:n_retain], 0.5 * u[n_retain:], DiagnoseOptions.of(
        alpha=0.1, batch_retain=4, batch_forget=2, eta=0.01))


@pytest.mark.parametrize(("n_r", "n_f", "k"), [(50, 13, 12), (7, 3, 12), (9, 0, 4), (5, 5, 2)])
def test_group_means_equal_the_mean_over_distinct_pairs(n_r, n_f, k):
    rng = np.random.default_rng(n_r + n_f)
    a = rng.standard_normal((n_r + n_f, 5))
    S = np.abs(a @ a.T)
    gm = group_means(S, n_r, k)
    assert sorted(gm.order.tolist()) == list(range(n_r + n_f))
    assert gm.sizes.sum() == n_r + n_f and len(gm.sizes) <= k
    cuts = np.cumsum(gm.sizes)[:-1]
    groups = np.split(gm.order, cuts)
    # retain groups hold retain samples only, forget groups forget samples only
    assert all((g < n_r).all() for g in groups[:gm.n_retain_groups])
    assert all((g >= n_r).all() for g in groups[gm.n_retain_groups:])
    assert (gm.n_retain_groups < len(groups)) == (n_f > 0)
    for a_i, ga in enumerate(groups):
        for b_i, gb in enumerate(groups):
            vals = [S[i, j] for i in ga for j in gb if i != j]
            if vals:
                assert gm.means[a_i, b_i] == pytest.approx(np.mean(vals), rel=1e-12)
            else:
                assert np.isnan(gm.means[a_i, b_i])


def test_groups_are_sorted_by_mean_coherence():
    S = np.diag(np.arange(1.0, 9.0)) + np.outer(np.arange(8.0), np.arange(8.0))
    gm = group_means(S, 6, 4)
    row_mean = S.mean(axis=1)
    retain_order = gm.order[:6]
    assert np.all(np.diff(row_mean[retain_order]) <= 0)


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.text = [], []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("src", "href", "srcset", "data") and value:
                self.urls.append(value)
        if tag == "link":
            self.urls.append(dict(attrs).get("href") or "link")

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize(("n_r", "n_f"), [(20, 4), (FULL_MATRIX_MAX + 40, 20)])
def test_report_html_is_self_contained_and_states_the_numbers(tmp_path, n_r, n_f):
    report = _report(n_r, n_f)
    paths = write_outputs(report, tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert paths["html"] == str(tmp_path / "report.html")
    parsed = _Assets()
    parsed.feed(page)
    # nothing linked: the only URL is the embedded figure, and it is the PNG written next to it
    assert len(parsed.urls) == 1 and parsed.urls[0].startswith("data:image/png;base64,")
    embedded = base64.b64decode(parsed.urls[0].split(",", 1)[1])
    assert embedded == (tmp_path / "diagnose.png").read_bytes()
    assert not re.search(r"https?://|<script|@import|url\(", page)
    text = " ".join(parsed.text)
    js = json.loads((tmp_path / "report.json").read_text())
    assert js["verdict"] in text
    for number in NUMBERS:
        if js.get(number.key) is not None:
            assert number.symbol in text and f"{js[number.key]:.6g}" in text
    for notion in ("mean-square", "coherence"):
        assert notion in text
    for p in js["prescriptions"]:
        assert p["text"] in text
