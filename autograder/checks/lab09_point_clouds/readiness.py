"""GPU-readiness checks of lab09_point_clouds: they run on a CPU too (see
autograder/readiness.py). A small PointNetClassifier: the student's T-Net, call, loss and
train_step under XLA and float16."""
from autograder import readiness


def _build(lab):
    return lambda: lab.pointnet.PointNetClassifier(5, widths=(16, 32), head_units=(16,),
                                                   num_points=24)


def _clouds(rng):
    from dlkit.data import make_point_clouds
    data = make_point_clouds(64, num_points=24, seed=int(rng.integers(0, 1000)))
    return data["points"], data["labels"]


(pointnet_trains_with_xla, pointnet_trains_in_mixed_precision,
 pointnet_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "pointnet", build=_build, data=_clouds, uses="pointnet",
    task="`PointNetClassifier.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; cast the logits and "
               "the transform to float32 before the losses")
