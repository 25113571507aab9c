"""Lines of one lab's solution regions that are library plumbing, not that lab's answer.

The leak scan (release.py) treats every long line of a lab's solution regions as that lab's
answer, which no other lab's skeleton may show. A line that the regions of several labs ask
for is the libraries' common vocabulary (`return self.trackers.results()`) and is left out
by rule. The lines below sit in the regions of one lab only, yet say nothing about what that
lab teaches: seeding a generator, converting inputs, a Keras config or tracker call, a loop
header. Each was read beside the skeleton that shows it. An entry must never be a line that
computes what a lab grades (an update rule, a loss, a layer's weights): such a line is a leak,
and the later lab's solution is what changes (see README.md, "The student release").
"""

IDIOMS = frozenset({
    # numpy plumbing: a seeded generator, float64 inputs
    "rng = np.random.default_rng(seed)",
    "x = np.asarray(x, dtype=np.float64)",
    "y = np.asarray(y, dtype=np.float64)",
    # TensorFlow plumbing: tensors from Python or numpy inputs
    "labels = tf.convert_to_tensor(labels)",
    # Keras plumbing: configs, shapes, compile, the kit's trackers, a model from a layer list
    "return {**super().get_config(),",
    'return {**super().get_config(), "input_dim": self.input_dim,',
    "config[key] = keras.saving.deserialize_keras_object(config[key])",
    "shape = layer.compute_output_shape(shape)",
    "self.kernel = self.add_weight(",
    "model.compile(optimizer=keras.optimizers.Adam(learning_rate),",
    "self.trackers.update(loss=loss)",
    "return keras.Sequential(layers)",
    # a gradient step of a model with its own optimizer, outside a train_step
    "grads = tape.gradient(loss, model.trainable_variables)",
    "optimizer.apply(grads, model.trainable_variables)",
    # loop headers: the body is the answer, and it differs from lab to lab
    "for units in hidden_units:",
    "for index, (w, b) in enumerate(params):",
})
