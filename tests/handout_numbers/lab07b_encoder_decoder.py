from tests.handout_numbers import Claim

CLAIMS = [
    Claim("translation_trains", "exact", "98.0 % of the held-out numbers written exactly",
          at_least=0.95),
    Claim("translation_trains", "tokens", "(99.2 % of their digits and EOS)", at_least=0.98),
    Claim("pretraining_beats_scratch", "mlm_loss", "masked-LM loss 1.79 nats at the end",
          at_most=1.85),
    Claim("pretraining_beats_scratch", "fine_tuned", "fine-tuned 75.0 % right", at_least=0.72),
    Claim("pretraining_beats_scratch", "scratch", "from scratch 67.8 %", at_most=0.70),
    Claim("pretraining_beats_scratch", "gain", "a lead of 7.2 points", at_least=0.06),
]
