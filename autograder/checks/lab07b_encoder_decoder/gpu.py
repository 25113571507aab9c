"""GPU check of lab07b_encoder_decoder (autograder/gpu.py): the student's encoder-decoder
transformer trained to write numbers up to 999 999 (up to 9 words) as digits, judged by the
exact-match accuracy of greedy decoding on held-out numbers against the reference's."""
import numpy as np

from autograder.checks.lab07b_encoder_decoder.probes import BOS, EOS, PAD, number_pairs, shifted
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# 4 000 Adam steps in batches of 256 of a 3+3-block, 128-wide transformer (1.4 M weights)
# on sources of 9 words and targets of 7 digits: about 6 x 1.4 M = 9 MFLOP a token trained,
# 4 100 tokens a step, 35 GFLOP a step, 140 TFLOP in all (20 s at 10 % of a T4's fp16
# peak); the small matmuls make step latency (~15 ms) the pace: about a minute. Greedy
# decoding of 2 000 held-out numbers takes 7 decoder passes.
LARGE = {"high": 1_000_000, "source_length": 9, "target_length": 7, "d_model": 128,
         "num_heads": 4, "num_layers": 3, "mlp_dim": 512, "batch": 256, "steps": 4_000,
         "test": 2_000, "learning_rate": 5e-4}
MARGIN = 0.05   # exact match within 5 points of the reference's
FLOOR = 0.8     # the reference writes nearly every held-out number right


@gpu_check(points=3, minutes=1.5, uses="encoder_decoder",
           task="`Transformer` (attention, post-norm blocks, encoder, decoder)",
           hint="the translator is all yours: check the masks (padding in the encoder and "
                "the cross-attention, causal in the decoder), the post-norm order, and that "
                "the layers compute in the policy's dtype under mixed precision")
def translation_of_large_numbers(lab, rng):
    """The encoder-decoder (3 + 3 blocks, 128 wide) trained for 4 000 steps to write numbers
    below a million, given in up to 9 words, as digits (mixed precision, XLA), then
    greedy-decoded on 2 000 held-out numbers: its exact-match accuracy comes within 5 points
    of the reference's, above 80 %."""
    import keras
    config = dict(LARGE)
    if lab.gpu.smoke:   # float16 matmuls are slow on a CPU
        config.update(d_model=16, num_heads=2, num_layers=1, mlp_dim=16, batch=32)
    steps = lab.gpu.steps(config["steps"])
    numbers = rng.integers(0, config["high"], size=steps * config["batch"] +
                           lab.gpu.examples(config["test"]))
    sources, targets = number_pairs(numbers, config["source_length"], config["target_length"])
    test_size = lab.gpu.examples(config["test"])
    (test_sources, test_targets), (sources, targets) = (
        (sources[:test_size], targets[:test_size]), (sources[test_size:], targets[test_size:]))
    model = lab.encoder_decoder.Transformer(
        config["source_length"], config["target_length"], d_model=config["d_model"],
        num_heads=config["num_heads"], num_layers=config["num_layers"],
        mlp_dim=config["mlp_dim"])
    lab.gpu.compile(model, keras.optimizers.Adam(config["learning_rate"]),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                    ignore_class=PAD))
    model.fit((sources, shifted(targets)), targets, batch_size=config["batch"], epochs=1,
              verbose=0)
    memory, mask = model.encode(test_sources)
    tokens = np.full((len(test_sources), 1), BOS, "int32")
    for _ in range(config["target_length"]):
        logits = np.asarray(model.decode(tokens, memory, mask), dtype=np.float32)[:, -1]
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None].astype("int32")], 1)
    decoded = tokens[:, 1:]
    decoded[np.cumsum(decoded == EOS, axis=1) - (decoded == EOS) > 0] = PAD
    return {"exact": float(np.all(decoded == test_targets, axis=1).mean()),
            "smoke": lab.gpu.smoke}


@translation_of_large_numbers.verdict
def _(student, reference):
    what = (f"the exact-match accuracy of greedy decoding on held-out numbers below a million "
            f"(the reference reaches {reference['exact']:.1%} with the same training)")
    expect_at_least(student["exact"], reference["exact"] - MARGIN, what)
    if not student["smoke"]:
        expect_at_least(student["exact"], FLOOR, what)
