from tests.handout_numbers import Claim

CLAIMS = [
    Claim("unet_segments_shapes", "mean_iou", "mean IoU 0.919", at_least=0.9),
    Claim("unet_segments_shapes", "pixel_accuracy", "(pixel accuracy 99.0 %)", at_least=0.985),
    Claim("detector_localises_and_classifies", "mean_box_iou",
          "mean box IoU 0.677 and class accuracy 66 %", at_least=0.66),
    Claim("detector_localises_and_classifies", "accuracy",
          "mean box IoU 0.677 and class accuracy 66 %", at_least=0.62),
]
