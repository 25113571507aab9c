from tests.handout_numbers import Claim

CLAIMS = [
    Claim("classifier_trains", "accuracy",
          "400 clouds of 48 points, Adam 1e-2, 12 epochs of batches of 32 | accuracy 0.85 on "
          "200 clouds", at_least=0.83, at_most=0.87),
    Claim("classifier_trains", "loss", "(0.73 here)", at_least=0.72, at_most=0.74),
    Claim("classifier_trains", "first_loss", "logs about the first epoch's loss (1.60)",
          at_least=1.59, at_most=1.615),
    Claim("segmenter_trains", "mean_iou",
          "416 clouds of 48 points, Adam 3e-3, 6 epochs of batches of 32 | part mean IoU 0.49",
          at_least=0.485, at_most=0.505),
]
