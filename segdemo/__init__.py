"""segdemo: semantic, instance and panoptic segmentation, shown and taken away."""
