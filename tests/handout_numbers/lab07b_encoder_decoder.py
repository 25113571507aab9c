from tests.handout_numbers import Claim

CLAIMS = [
    Claim("translation_trains", "exact", "99.3 % of the held-out numbers written exactly",
          at_least=0.97),
    Claim("translation_trains", "tokens", "(99.7 % of their digits and EOS)", at_least=0.99),
    Claim("pretraining_beats_scratch", "mlm_loss", "masked-LM loss 1.89 nats at the end",
          at_most=1.95),
    Claim("pretraining_beats_scratch", "fine_tuned", "fine-tuned 88.8 % right", at_least=0.85),
    Claim("pretraining_beats_scratch", "scratch", "from scratch 71.5 %", at_most=0.75),
    Claim("pretraining_beats_scratch", "gain", "a lead of 17.3 points", at_least=0.14),
]
