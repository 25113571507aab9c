from tests.handout_numbers import Claim

CHECK = "adversarial_training_improves_robustness"

CLAIMS = [
    Claim(CHECK, "standard_clean", "| standard | 95.6 % |", at_least=0.93),
    Claim(CHECK, "standard_fgsm", "| standard | 95.6 % | 21.6 % |", at_most=0.25),
    Claim(CHECK, "adversarial_clean", "| adversarial (PGD, ε = 0.15) | 93.6 % |", at_least=0.91),
    Claim(CHECK, "adversarial_fgsm", "FGSM 56.4 %", at_least=0.55),
    Claim(CHECK, "adversarial_pgd", "PGD 53.6 %", at_least=0.52),
]
