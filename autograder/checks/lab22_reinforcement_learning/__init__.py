"""Checks of lab22_reinforcement_learning: the graded modules are tabular.py (value
iteration, greedy policies), policy_gradients.py (returns-to-go, the policy-gradient loss,
GAE, PPO's clipped objective, the REINFORCE update), dqn.py (replay buffer, TD targets, the
DQN's train_step) and mcts.py (PUCT search on tic-tac-toe).

probes.py: the checks' own references: policy iteration by exact linear solves, brute-force
loops for returns and advantages, numpy losses and gradients, exhaustive minimax.
public.py: tabular and policy-gradient maths and the REINFORCE update and training.
public_dqn.py: the replay buffer, TD targets and DQN.train_step; public_mcts.py: PUCT and MCTS.
readiness.py: XLA, mixed precision and retracing of the student's DQN.
hidden.py: the same on fresh inputs and sizes.
"""
MODULES = ("tabular", "policy_gradients", "dqn", "mcts")
