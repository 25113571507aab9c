from tests.handout_numbers import Claim

CHECK = "adversarial_training_improves_robustness"

CLAIMS = [
    Claim(CHECK, "standard_clean", "| standard | 95.3 % |", at_least=0.93),
    Claim(CHECK, "standard_fgsm", "| standard | 95.3 % | 14.2 % |", at_most=0.25),
    Claim(CHECK, "adversarial_clean", "| adversarial (PGD, ε = 0.15) | 93.1 % |", at_least=0.91),
    Claim(CHECK, "adversarial_fgsm", "FGSM 60.7 %", at_least=0.55),
    Claim(CHECK, "adversarial_pgd", "PGD 57.1 %", at_least=0.52),
]
