"""Checks of lab25_model_compression (model compression on the 8x8 digits): the graded modules
are compression.py (Swish, Mish, squeeze-and-excite, distillation, magnitude pruning and the
lottery-ticket rewind, int8 quantisation, fake quantisation, low-rank factorisation) and
qat.py (quantisation-aware training: fake_quant_per_channel, fake_quant_range, QATDense).

probes.py: the helpers the checks share and the checks' own stand-ins (of known, different
behaviour) for distillation_loss and magnitude_mask inside the Distiller and the pruning
callback.
public.py: the blocks against Keras's activations and numpy, the distillation loss against
scipy, the int8 quantiser against Keras's own model.quantize("int8"), fake_quant against
tf.quantization.fake_quant_with_min_max_vars, low rank against numpy's SVD.
public_train.py: Distiller.train_step (teacher frozen, stand-in loss), the sparsity schedule,
the magnitude mask, the pruning callback, the rewind, and one relative training check
(distilled student against the same student trained alone).
readiness.py: XLA, mixed precision and retracing of the student's Distiller.
hidden.py: the same on fresh shapes, and the Distiller with the student's own loss.
public_qat.py: the QAT fake quantisers and QATDense against TensorFlow's fake-quant ops.
hidden_qat.py: the same on fresh settings, and a short QAT run on the digits whose model
survives Keras's int8 quantisation (relative to the reference).
"""
MODULES = ("compression", "qat")
