from tests.handout_numbers import Claim

CLAIMS = [
    Claim("gcn_on_citation_graph", "accuracy", "100 steps | GCN 82 %", at_least=0.80),
    Claim("gcn_on_citation_graph", "mlp_accuracy",
          "plain MLP on the same features 34 %", at_most=0.36),
    Claim("gcn_on_citation_graph", lambda out: out["accuracy"] - out["mlp_accuracy"],
          "the GCN must beat the MLP by 25 points", at_least=0.25),
    Claim("gcn_on_karate_club", "accuracy",
          "GCN 93 % of the 30 unlabelled members", at_least=0.93),
    Claim("graph_classifier_on_cycles_and_trees", "accuracy",
          "2 message layers of 16 units, sum readout: 99 %", at_least=0.97),
    Claim("graph_classifier_on_cycles_and_trees", "no_messages_accuracy",
          "no message layer: 50 % (chance)", at_least=0.4, at_most=0.6),
    Claim("interaction_network_learns_springs", "mse",
          "the mean squared error of its accelerations is 0.009", at_most=0.012),
    Claim("interaction_network_learns_springs", "zero_mse",
          "predicting no acceleration scores 1.68", at_least=1.6, at_most=1.76),
    Claim("interaction_network_learns_springs", "rollout_error",
          "the bodies end 0.15 away from where the true springs take them", at_most=0.17),
    Claim("interaction_network_learns_springs", "constant_velocity_error",
          "moving every body in a straight line ends 1.49 away", at_least=1.45, at_most=1.53),
]
