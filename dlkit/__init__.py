"""dlkit: the helper library of the deep-learning lab kit (Keras 3 on TensorFlow).

Labs, reference solutions and notebook companions import it for everything that is not the
point of the exercise: data, plots, and training plumbing. It works offline: every default
dataset is generated or ships inside an installed package.

Submodules:
- dlkit.backend   quiet one-time TensorFlow import, seeding, Keras resets, device summary
- dlkit.data      digits, 2-D toy sets, procedural shapes, local-only TFDS, tf.data helpers
- dlkit.plots     PNG figures: image grids, 2-D scatters and densities, loss curves,
                  decision boundaries
- dlkit.training  LossTrackers for custom train_steps, TensorBoard callbacks, run_dir
- dlkit.callbacks the TensorBoard and image-sample callbacks (imports TensorFlow)

Importing dlkit, dlkit.data, dlkit.plots or dlkit.training does not import TensorFlow (the
autograder's grading process relies on it); functions that need TF import it on first call
through dlkit.backend.tensorflow().
"""

__version__ = "0.1.0"
