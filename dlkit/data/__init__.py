"""Datasets for the labs, all available offline.

- digits:    scikit-learn's 8x8 handwritten digits (ships inside sklearn)
- toy2d:     2-D toy densities and labelled 2-D sets, drawn with numpy
- shapes:    procedural shape images with labels, masks and boxes (optionally textured)
- multishapes: images of several shapes with every box and class (multi-object detection)
- graphs:    the karate club (networkx), a citation-like graph, cycles and trees, springs
- point_clouds: points sampled from procedural 3-D shapes, with classes and part labels
- tfds_real: real datasets read from the local TFDS folder only (fails fast if absent)
- pipelines: numpy arrays -> seeded, batched tf.data pipeline
- domains:   a source task and shifted target domains of the digits (transfer, adaptation)
- glyphs:    Omniglot-like glyph classes (train / held-out split), sinusoid regression tasks
- sequences: drifting class-dependent sinusoid mixtures with their latent phase (CPC)
- gaussians: correlated Gaussian pairs with their true mutual information, discrete joints
- kernels_data: small seeded regression sets on the circle, sphere or an interval (NNGP, NTK)
- tabular:   eight features with known effects (additive, one interaction, irrelevant)
- gridworld: a seeded gridworld MDP as tables (transitions with slip, rewards, terminals)
- translation: sketches and paintings of shapes, paired and unpaired (image translation)

The numpy loaders never import TensorFlow; the *_dataset functions import it on first call.
"""
from dlkit.data.digits import digits_dataset, load_digits
from dlkit.data.domains import SHIFTS, make_domains, paired_domains, shift_images, transfer_task
from dlkit.data.gaussians import (
    correlated_gaussians,
    gaussian_mutual_information,
    random_joint,
    sample_joint,
)
from dlkit.data.glyphs import NUM_GLYPH_CLASSES, glyph_classes, make_glyphs, sinusoid_tasks
from dlkit.data.graphs import (
    citation_graph,
    cycles_and_trees,
    edges_both_ways,
    karate_club,
    spring_systems,
)
from dlkit.data.gridworld import GRID_ACTIONS, make_gridworld, render_gridworld
from dlkit.data.kernels_data import KERNEL_DOMAINS, kernel_target, make_kernel_regression
from dlkit.data.multishapes import make_multi_shapes
from dlkit.data.pipelines import arrays_dataset
from dlkit.data.point_clouds import (
    PART_NAMES,
    POINT_CLOUD_CLASSES,
    make_point_clouds,
    point_clouds_dataset,
)
from dlkit.data.sequences import SEQUENCE_FREQUENCIES, make_sequences
from dlkit.data.shapes import SHAPE_CLASSES, background_texture, make_shapes, shapes_dataset
from dlkit.data.tabular import TABULAR_FEATURES, TABULAR_RELEVANT, make_tabular, tabular_target
from dlkit.data.tfds_real import DatasetNotAvailable, find_prepared, load_tfds
from dlkit.data.toy2d import (
    CLASSIFICATION_NAMES,
    TOY2D_NAMES,
    sample_toy2d,
    toy2d_classification,
    toy2d_dataset,
    toy2d_mode_counts,
    toy2d_modes,
)
from dlkit.data.translation import (
    make_translation_pairs,
    make_unpaired_translation,
    translation_dataset,
)

__all__ = [
    "CLASSIFICATION_NAMES",
    "DatasetNotAvailable",
    "GRID_ACTIONS",
    "KERNEL_DOMAINS",
    "NUM_GLYPH_CLASSES",
    "PART_NAMES",
    "POINT_CLOUD_CLASSES",
    "SEQUENCE_FREQUENCIES",
    "SHAPE_CLASSES",
    "SHIFTS",
    "TABULAR_FEATURES",
    "TABULAR_RELEVANT",
    "TOY2D_NAMES",
    "arrays_dataset",
    "background_texture",
    "citation_graph",
    "correlated_gaussians",
    "cycles_and_trees",
    "digits_dataset",
    "edges_both_ways",
    "find_prepared",
    "gaussian_mutual_information",
    "glyph_classes",
    "karate_club",
    "kernel_target",
    "load_digits",
    "load_tfds",
    "make_domains",
    "make_glyphs",
    "make_gridworld",
    "make_kernel_regression",
    "make_multi_shapes",
    "make_point_clouds",
    "make_sequences",
    "make_shapes",
    "make_tabular",
    "make_translation_pairs",
    "make_unpaired_translation",
    "paired_domains",
    "point_clouds_dataset",
    "random_joint",
    "render_gridworld",
    "sample_joint",
    "sample_toy2d",
    "shapes_dataset",
    "shift_images",
    "sinusoid_tasks",
    "spring_systems",
    "tabular_target",
    "toy2d_classification",
    "toy2d_dataset",
    "toy2d_mode_counts",
    "toy2d_modes",
    "transfer_task",
    "translation_dataset",
]
