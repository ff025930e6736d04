"""Dataset readers that need no torch: KITTI labels, VOC/COCO/YOLO converters, the detection index, image lists."""
