"""The issue's targets, measured by bench/fidelity.py: a regression fails CI.

On the shipped sets (TICO-19 and the team's faithful translations): ≤ 1% false alarms (none on the fixtures);
≥ 97% of changed numbers, codes, doses and units caught; ≥ 95% of dropped sentences; ≥ 80% of cut last thirds.
On NTREX-128's held-out half (real professional news translations, read from the shared real-data folder),
bounds a little under this run's rates, which bench/results/fidelity.md states: 0.4% false alarms on lines
(bound 1%), changed numbers 97.4% (bound 96%: a few more held-out numbers hidden by the lenient reading would
cross 97%), dropped sentences 95.0% (bound 93%: exactly the target, with no margin), a cut last third 86.5%;
the derived three-line paragraphs 0.9% false alarms (bound 1.5%: one more would cross 1%; each inherits its
lines' false alarms). Swapped options and unrelated fluent Arabic are the documented blind spots; the signals
are measured, not bounded beyond the negation signal's cost.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fidelity.py"
EXACT = ("changed number", "changed number in a code", "changed dose (×10, ÷10)", "changed unit",
         "changed unit (length, mass, time…)")


def _bench():
    spec = importlib.util.spec_from_file_location("bench_fidelity", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    return _bench().measure()


@pytest.fixture(scope="module")
def real_report(real_data):
    return _bench().measure(real=real_data)


def test_false_alarms(report):
    assert {name: t.total for name, t in report.false_alarms.items()} == {
        "tico19/g_en_ar.csv": 337,
        "tico19/f_en-ar_AR.csv": 306,
        "tico19/g_ar_en.csv": 49,
        "faithful": 76,
    }
    shipped = sum(t.flagged for t in report.false_alarms.values()) / sum(
        t.total for t in report.false_alarms.values()
    )
    assert shipped <= 0.01, [e for t in report.false_alarms.values() for e in t.examples]
    assert report.false_alarms["faithful"].rate <= 0.01, report.false_alarms["faithful"].examples


def _check_catches(catches, dropped_bound, exact_bound=0.97):
    for kind in EXACT:
        if kind in catches:
            assert catches[kind].rate >= exact_bound, (kind, catches[kind].examples[:10])
    assert catches["dropped sentence"].rate >= dropped_bound, catches["dropped sentence"].examples[:10]
    assert catches["last third cut"].rate >= 0.80, catches["last third cut"].examples[:10]
    assert catches["untranslated English sentence"].rate >= 0.97
    assert catches["Latin-only output"].rate >= 0.97


def test_catch_rate_per_corruption(report):
    for kind in EXACT:
        assert report.catches[kind].total >= 50, kind  # enough applicable pairs for the rate to mean something
    _check_catches(report.catches, 0.95)
    assert report.catches["missing option"].rate >= 0.97


def test_swapped_options(report):
    assert report.detail[("swapped options", "numbers/codes differ")].rate >= 0.95
    assert report.catches["swapped options"].rate >= 0.75


def test_real_translations(real_report):
    held_out = real_report.false_alarms["ntrex128/held-out"]
    assert held_out.total == 990
    assert held_out.rate <= 0.01, held_out.examples
    assert real_report.false_alarms["ntrex128/calibration"].rate <= 0.01
    paragraphs = real_report.false_alarms["ntrex128/paragraphs"]
    assert paragraphs.rate <= 0.015, paragraphs.examples
    # News numbers hide behind lenient readings of the translation (a "الأربع كرات" for "fourballs" stands
    # for a 4, a decade is not required): 97.4% of changed numbers, listed in bench/results/fidelity.md.
    _check_catches(real_report.real_catches, 0.93, exact_bound=0.96)


def test_negation_signal_is_measured(real_report):
    added = real_report.signal_catches[("ntrex128", "added")]
    removed = real_report.signal_catches[("ntrex128", "removed")]
    assert added.total >= 100 and removed.total >= 100
    assert added.rate >= 0.5 and removed.rate >= 0.4
    assert real_report.signal_alarms[("ntrex128", "negation")].rate <= 0.08  # its cost, reported to the judge as a hint
