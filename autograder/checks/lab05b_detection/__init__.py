"""Checks of lab05b_detection (dense prediction after lab05_cnn: a YOLO-style grid detector,
non-max suppression, mAP, atrous convolution and ASPP on textured shapes).

Graded modules: detection.py (pairwise IoU, anchor slots, grid targets, the YOLO loss,
decoding, NMS, AP and mAP, the detector's head) and segmentation.py (atrous convolution by
hand, the receptive field, the ASPP block).
probes.py: what the checks share: Keras's box IoU standing in for pairwise_iou, the check's
loop-by-loop numpy YOLO loss, the brute-force mAP that sweeps every score threshold, weight
assignment and the two training probes (the detector scored by that mAP after
tf.image.non_max_suppression; the ASPP U-Net against the best global threshold).
public.py: detection.py's IoU, anchors, targets and loss terms; public_decoding.py: its
decoding, NMS, AP and mAP, and the detector's training; public_segmentation.py:
segmentation.py.
hidden.py: the same functions on fresh random inputs and other sizes.
gpu.py: the detector on 64x64 images with an 8x8 grid.
"""
MODULES = ("detection", "segmentation")
