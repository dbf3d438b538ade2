"""benchmarks/bench.py: the summary table and the target checks, on made-up measurements."""

from benchmarks import bench


def lenet_result(book_accs, ours_accs, book_s=26.0, ours_s=9.0):
    runs = {"book": [{"seconds_per_epoch": book_s, "test_acc": a, "peak_rss_mb": 3000.0}
                     for a in book_accs],
            "ours": [{"seconds_per_epoch": ours_s, "test_acc": a, "peak_rss_mb": 900.0}
                     for a in ours_accs]}
    median = {side: {"seconds_per_epoch": runs[side][0]["seconds_per_epoch"],
                     "test_acc": sum(r["test_acc"] for r in runs[side]) / len(runs[side]),
                     "peak_rss_mb": runs[side][0]["peak_rss_mb"]} for side in runs}
    return {"task": "lenet", "arg": 10, "metric": "seconds_per_epoch", "runs": runs,
            "median": median}


def test_lenet_accuracy_is_a_mean_over_seeds_with_every_draw_shown():
    table = bench.table([lenet_result([0.77, 0.80, 0.83], [0.81, 0.80, 0.79])])
    assert "| LeNet, 10 epochs | 26.0 s/epoch | 9.0 s/epoch | 2.9x | 3,000 / 900 |" in table
    assert ("mean of 3 seeds | 0.800 (0.770 / 0.800 / 0.830) | 0.800 (0.810 / 0.800 / 0.790)"
            in table)


def test_targets_report_met_and_missed():
    met = bench.targets([lenet_result([0.78, 0.79], [0.80, 0.79])])
    assert met == ["- LeNet wall time per epoch >= 2.5x faster: 2.9x (met)",
                   "- LeNet mean test accuracy within 0.02: +0.010 (met)",
                   "- peak memory ours <= book (lenet 10): 900 vs 3,000 MB (met)"]
    missed = bench.targets([lenet_result([0.75, 0.76], [0.80, 0.81], ours_s=12.0)])
    assert "- LeNet wall time per epoch >= 2.5x faster: 2.2x (MISSED)" in missed
    assert "- LeNet mean test accuracy within 0.02: +0.050 (MISSED)" in missed
