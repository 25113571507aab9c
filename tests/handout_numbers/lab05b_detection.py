from tests.handout_numbers import Claim

CLAIMS = [
    Claim("grid_detector_finds_shapes", "map", "**mAP@0.5 0.711**", at_least=0.69),
    Claim("aspp_unet_beats_threshold", "mean_iou", "**mean IoU 0.724**", at_least=0.71),
    Claim("aspp_unet_beats_threshold", "threshold_iou", "reaches **0.475**", at_most=0.49),
    Claim("aspp_unet_beats_threshold", lambda out: out["mean_iou"] - out["threshold_iou"],
          "a margin of 0.249", at_least=0.2),
]
