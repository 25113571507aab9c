from tests.handout_numbers import Claim

CLAIMS = [
    Claim("pix2pix_learns_shapes", "sketches",
          "the sketches themselves, as their own paintings | — | 0.21", at_least=0.20,
          at_most=0.215),
    Claim("pix2pix_learns_shapes", "after",
          "`pix2pix_learns_shapes` | 100 steps of 32 pairs | 0.11", at_most=0.12),
    Claim("cyclegan_learns_shapes", "silhouettes",
          "the silhouettes themselves | — | 0.22", at_least=0.215, at_most=0.23),
    Claim("cyclegan_learns_shapes", "after",
          "`cyclegan_learns_shapes` | 40 steps of 8 unpaired images of each domain | 0.14",
          at_least=0.135, at_most=0.15),
]
