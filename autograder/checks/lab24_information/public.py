"""Public checks of lab24_information, part 1: entropy, cross-entropy, KL and mutual
information of discrete distributions against scipy.stats.entropy and
sklearn.metrics.mutual_info_score (computed in the probe, never by the student's code), and
the plug-in estimates from samples with their bias."""
import numpy as np

from autograder.api import check
from autograder.checks.lab24_information.probes import (
    EXACT,
    count_table,
    discrete_samples,
    distributions,
    judge_inf_where,
    judge_values,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_true


@check(points=2, uses="information", task="`entropy`",
       hint="H = -sum p log p over the LAST axis, 0 log 0 = 0, divided by log(base) "
       "(bits by default)")
def entropy_bits_and_nats(lab, rng):
    """Batches of distributions with zero cells, a one-hot and a uniform row, in bits and in
    nats, against `scipy.stats.entropy`."""
    from scipy.stats import entropy
    p = np.concatenate([distributions(rng, 4, 6, zeros=2), np.eye(6)[[2]], np.full((1, 6), 1 / 6)])
    return {"bits": lab.information.entropy(p), "nats": lab.information.entropy(p, base=np.e),
            "scipy_bits": entropy(p, base=2, axis=-1), "scipy_nats": entropy(p, axis=-1)}


@entropy_bits_and_nats.verdict
def _(student, reference):
    judge_values(student["bits"], student["scipy_bits"], "entropy(p) (6 distributions, bits)",
                 "scipy.stats.entropy", nats=student["scipy_nats"], base=2.0)
    judge_values(student["nats"], student["scipy_nats"], "entropy(p, base=np.e)",
                 "scipy.stats.entropy", nats=student["scipy_nats"], base=np.e)
    expect_close(student["bits"], reference["bits"], "entropy(p)", **EXACT)


@check(points=2, uses="information", task="`cross_entropy`, `kl_divergence`",
       hint="H(p, q) = -sum p log q where p > 0 (inf where q = 0 < p); "
       "KL(p || q) = H(p, q) - H(p): p is the data, q the model")
def cross_entropy_and_kl(lab, rng):
    """Both on pairs of distributions with zeros in p (and one row with q = 0 < p: +inf),
    in bits and nats, against `scipy.stats.entropy(p)` and `scipy.stats.entropy(p, q)`."""
    from scipy.stats import entropy
    p = distributions(rng, 5, 5, zeros=1)
    q = distributions(rng, 5, 5)
    q[4] = 0.0
    q[4, p[4] == 0] = 1.0          # the last row: q is 0 wherever p is not
    info = lab.information
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"ce": info.cross_entropy(p, q), "kl": info.kl_divergence(p, q),
                "kl_nats": info.kl_divergence(p, q, base=np.e),
                "kl_swapped": entropy(q[:4], p[:4], base=2, axis=-1),
                "scipy_kl": entropy(p, q, base=2, axis=-1),
                "scipy_kl_nats": entropy(p, q, axis=-1),
                "scipy_ce": entropy(p, base=2, axis=-1) + entropy(p, q, base=2, axis=-1)}


@cross_entropy_and_kl.verdict
def _(student, reference):
    kl = np.asarray(student["kl"], dtype=np.float64)
    expect_true(np.shape(kl) != (5,) or not np.allclose(kl[:4], student["kl_swapped"], **EXACT)
                or np.allclose(kl[:4], student["scipy_kl"][:4], **EXACT),
                "kl_divergence(p, q) equals KL(q || p): the arguments are swapped; p is the "
                "data's distribution, the expectation is taken under p")
    for key, what in (("ce", "cross_entropy(p, q)"), ("kl", "kl_divergence(p, q)")):
        judge_values(np.asarray(student[key])[:4], student[f"scipy_{key}"][:4], what,
                     "scipy.stats.entropy", base=2.0)
        judge_inf_where(student[key], student[f"scipy_{key}"], what)
    judge_values(np.asarray(student["kl_nats"])[:4], student["scipy_kl_nats"][:4],
                 "kl_divergence(p, q, base=np.e)", "scipy.stats.entropy",
                 nats=student["scipy_kl_nats"][:4], base=np.e)
    expect_close(student["kl"], reference["kl"], "kl_divergence(p, q)", **EXACT)


@check(points=2, uses="information", task="`mutual_information`",
       hint="I(X;Y) = KL(joint || outer(p_x, p_y)) with p_x = joint.sum(axis=1), "
       "p_y = joint.sum(axis=0)")
def mutual_information_of_joints(lab, rng):
    """Joint tables (3×4 and 5×2, with empty cells, and an independent one) in bits and nats,
    against `sklearn.metrics.mutual_info_score` on the same contingency tables."""
    from sklearn.metrics import mutual_info_score
    tables = [count_table(rng, 3, 4), count_table(rng, 5, 2, zeros=1),
              np.outer(rng.integers(1, 9, 3), rng.integers(1, 9, 4))]
    info = lab.information
    return {"bits": np.array([info.mutual_information(t / t.sum()) for t in tables]),
            "nats": np.array([info.mutual_information(t / t.sum(), base=np.e) for t in tables]),
            "sklearn_nats": np.array([mutual_info_score(None, None, contingency=t)
                                      for t in tables])}


@mutual_information_of_joints.verdict
def _(student, reference):
    nats = student["sklearn_nats"]
    judge_values(student["bits"], nats / np.log(2.0), "mutual_information(joint) for 3 tables",
                 "sklearn's mutual_info_score (in bits)", nats=nats, base=2.0)
    judge_values(student["nats"], nats, "mutual_information(joint, base=np.e)",
                 "sklearn's mutual_info_score", nats=nats, base=np.e)
    expect_true(abs(student["bits"][2]) < 1e-9, "mutual_information of an independent joint "
                f"(an outer product) is {student['bits'][2]:.4g}, not 0")
    expect_close(student["bits"], reference["bits"], "mutual_information(joint)", **EXACT)


@check(points=1, uses="information", task="`empirical_distribution`, `plug_in_entropy`",
       hint="frequencies of 0..K-1 (np.bincount(samples, minlength=K) / N), K values even "
       "when some never occur; the plug-in entropy is their entropy")
def plug_in_entropy_of_samples(lab, rng):
    """Frequencies and the plug-in entropy of 40 samples of 7 values (two never drawn, one of
    them the largest), against `np.unique` counts and `scipy.stats.entropy`."""
    from scipy.stats import entropy
    samples = discrete_samples(rng, 7, 40, skip=2)
    samples = samples[samples != 6]                 # the last value never occurs either
    values, counts = np.unique(samples, return_counts=True)
    frequencies = np.zeros(7)
    frequencies[values] = counts / len(samples)
    info = lab.information
    return {"frequencies": info.empirical_distribution(samples, 7), "unique": frequencies,
            "bits": info.plug_in_entropy(samples, 7), "scipy_bits": entropy(counts, base=2),
            "nats": info.plug_in_entropy(samples, 7, base=np.e), "scipy_nats": entropy(counts)}


@plug_in_entropy_of_samples.verdict
def _(student, reference):
    expect_close(student["frequencies"], student["unique"],
                 "empirical_distribution(samples, 7) (7 values, two never drawn)",
                 against="np.unique's counts / N", **EXACT)
    judge_values(student["bits"], student["scipy_bits"], "plug_in_entropy(samples, 7)",
                 "scipy.stats.entropy of the counts", nats=student["scipy_nats"], base=2.0)
    judge_values(student["nats"], student["scipy_nats"], "plug_in_entropy(samples, 7, np.e)",
                 "scipy.stats.entropy of the counts", nats=student["scipy_nats"], base=np.e)


@check(points=1, uses="information", task="`miller_madow_entropy`",
       hint="plug-in + (m - 1) / (2N) nats, m = values seen at least once (not K), converted "
       "to the base")
def miller_madow_bias(lab, rng):
    """Values on samples that miss some values, in bits and nats; over 300 small samples
    (N = 15 of 8 values) the plug-in estimate is biased low and the corrected one less so."""
    from scipy.stats import entropy
    info = lab.information
    samples = discrete_samples(rng, 8, 25, skip=5)
    p = rng.dirichlet(np.full(8, 2.0))
    draws = [rng.choice(8, size=15, p=p) for _ in range(300)]
    return {"bits": info.miller_madow_entropy(samples, 8),
            "nats": info.miller_madow_entropy(samples, 8, base=np.e),
            "seen": len(np.unique(samples)), "n": len(samples),
            "plug_in_mean": float(np.mean([info.plug_in_entropy(d, 8) for d in draws])),
            "corrected_mean": float(np.mean([info.miller_madow_entropy(d, 8) for d in draws])),
            "truth": float(entropy(p, base=2))}


@miller_madow_bias.verdict
def _(student, reference):
    seen, n = student["seen"], student["n"]
    for key, log_base in (("bits", np.log(2.0)), ("nats", 1.0)):
        # The slips as offsets from the reference: m = K = 8 where the samples show `seen`
        # values; the correction left in nats where the base asks for bits.
        slips = [(reference[key] + (8 - seen) / (2 * n) / log_base,
                  f"uses m = K = 8 (every possible value): m counts the values SEEN at least "
                  f"once ({seen} here)")]
        if key == "bits":
            slips.append((reference[key] + (seen - 1) / (2 * n) * (1 - 1 / log_base),
                          "adds the correction (m - 1) / (2N) in nats to an entropy in bits: "
                          "divide it by log(base) too"))
        expect_close_naming(student[key], reference[key],
                            f"miller_madow_entropy(samples, 8"
                            f"{', base=np.e' if key == 'nats' else ''}) ({n} samples, {seen} "
                            "values seen)", slips, **EXACT)
    truth, plug, fixed = student["truth"], student["plug_in_mean"], student["corrected_mean"]
    expect_true(plug < truth and abs(fixed - truth) < abs(plug - truth),
                f"over 300 samples of N = 15, the plug-in entropy averages {plug:.4f} bits and "
                f"miller_madow_entropy {fixed:.4f}, true H = {truth:.4f}: the correction must "
                "move the estimate towards the truth")


@check(points=1, uses="information", task="`plug_in_mutual_information`",
       hint="count the pairs into a (max x + 1, max y + 1) table, divide by N, then "
       "mutual_information of it")
def plug_in_mutual_information_of_samples(lab, rng):
    """60 dependent pairs (x of 5 values, y of 4, one x value never drawn), bits and nats,
    against `sklearn.metrics.mutual_info_score(x, y)`."""
    from sklearn.metrics import mutual_info_score
    x = discrete_samples(rng, 5, 60, skip=1)
    y = np.where(rng.uniform(size=60) < 0.6, x % 4, rng.integers(0, 4, size=60))
    info = lab.information
    sklearn_nats = mutual_info_score(x, y)
    # table[x, y] += 1 with repeated pairs counts each distinct pair once: the MI of that
    # 0/1 table, normalised by its sum (sklearn) or by N (the KL of unnormalised cells).
    seen = np.zeros((5, 4))
    seen[x, y] = 1.0
    cells = seen / len(x)
    outer = np.outer(cells.sum(axis=1), cells.sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        by_n = float(np.sum(np.where(cells > 0, cells * np.log(cells / outer), 0.0)))
    return {"fancy_nats": [mutual_info_score(None, None, contingency=seen), by_n],
            "bits": info.plug_in_mutual_information(x, y),
            "nats": info.plug_in_mutual_information(x, y, base=np.e),
            "swapped": info.plug_in_mutual_information(y, x),
            "sklearn_nats": sklearn_nats}


@plug_in_mutual_information_of_samples.verdict
def _(student, reference):
    nats = student["sklearn_nats"]
    for fancy in student["fancy_nats"]:
        expect_true(not np.isclose(student["bits"], fancy / np.log(2.0), rtol=1e-6, atol=1e-9)
                    and not np.isclose(student["bits"], fancy, rtol=1e-6, atol=1e-9),
                    "plug_in_mutual_information(x, y) counts each distinct (x, y) pair once: "
                    "table[x, y] += 1 with fancy indices adds 1 once per repeated index "
                    "(unbuffered increments need np.add.at(table, (x, y), 1))")
    judge_values(student["bits"], nats / np.log(2.0), "plug_in_mutual_information(x, y)",
                 "sklearn's mutual_info_score (in bits)", nats=nats, base=2.0)
    judge_values(student["nats"], nats, "plug_in_mutual_information(x, y, base=np.e)",
                 "sklearn's mutual_info_score", nats=nats, base=np.e)
    expect_close(student["swapped"], student["bits"],
                 "plug_in_mutual_information(y, x) (MI is symmetric)",
                 against="plug_in_mutual_information(x, y)", **EXACT)
