"""GPU-readiness checks of lab24_information: they run on a CPU too (see
autograder/readiness.py). A small InfoNCEEstimator: the student's bound and train_step
under XLA and float16."""
from autograder import readiness


def _build(lab):
    return lambda: lab.information.InfoNCEEstimator(2, hidden_units=(16,), embed_dim=8)


def _pairs(rng, n: int = 64):
    x = rng.normal(size=(n, 2)).astype("float32")
    return x, (0.8 * x + 0.6 * rng.normal(size=(n, 2))).astype("float32")


(infonce_trains_with_xla, infonce_trains_in_mixed_precision,
 infonce_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "infonce", build=_build, data=_pairs, uses=("information",),
    task="`InfoNCEEstimator.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape, the bound in float32",
    trace_hint="use tf.shape(scores)[0] for N in infonce_bound, not scores.shape[0]")


def _digits(rng, n: int = 64):
    """16-pixel stand-ins of 4 classes: the readiness checks need a train_step, not digits."""
    return (rng.uniform(size=(n, 16)).astype("float32"),
            rng.integers(0, 4, size=n).astype("int32"))


(mine_trains_with_xla, mine_trains_in_mixed_precision,
 mine_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "mine", build=lambda lab: lambda: lab.variational.MINEEstimator(
        2, hidden_units=(8,)), data=_pairs, uses=("variational",),
    task="`MINEEstimator.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape, scores in float32",
    trace_hint="no Python floats from tensors in train_step; N from tf.shape")

(vib_trains_with_xla, vib_trains_in_mixed_precision,
 vib_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "vib", build=lambda lab: lambda: lab.variational.VIBClassifier(
        input_dim=16, num_classes=4, hidden_units=(8,), latent_dim=2), data=_digits, uses=("variational",),
    task="`VIBClassifier.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape")

(vae_trains_with_xla, vae_trains_in_mixed_precision,
 vae_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "vae", build=lambda lab: lambda: lab.variational.BitsBackVAE(
        input_dim=16, hidden_units=(8,), latent_dim=2),
    data=lambda rng: (rng.uniform(size=(64, 16)) > 0.5).astype("float32"),
    uses=("variational",), task="`BitsBackVAE.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape")
