"""Policy gradients: returns-to-go, the REINFORCE loss with a baseline, generalised advantage
estimation (the advantages of actor-critic methods) and PPO's clipped surrogate objective.
The REINFORCE agent on CartPole (gymnasium) at the bottom is given code that uses them.
"""
import keras
import numpy as np
import tensorflow as tf


def discounted_returns(rewards, gamma):
    """G_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ... to the end of ONE episode.
    rewards: (T,); returns (T,) float64."""
    # BEGIN SOLUTION one backward pass: G_t = r_t + gamma * G_{t+1}, G_T = 0
    returns = np.zeros(len(rewards))
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns
    # END SOLUTION


def policy_gradient_loss(logits, actions, advantages):
    """The REINFORCE (and actor-critic) policy loss, -mean_t log pi(a_t | s_t) * A_t, whose
    gradient is minus the policy gradient. logits: (N, A) float; actions: (N,) int;
    advantages: (N,) (returns minus a baseline), treated as constants. Returns a scalar."""
    # BEGIN SOLUTION log-softmax of the logits at the taken actions, times the advantages with
    #   their gradient stopped; minus the batch mean
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    taken = tf.gather(log_probs, tf.cast(actions, tf.int32), axis=1, batch_dims=1)
    advantages = tf.stop_gradient(tf.cast(advantages, tf.float32))
    return -tf.reduce_mean(taken * advantages)
    # END SOLUTION


def gae_advantages(rewards, values, last_value, dones, gamma, lam):
    """Generalised advantage estimation over a rollout of T steps that may hold several
    episodes. rewards, values, dones: (T,); dones[t] is True when the episode ended at step t
    (nothing after it is bootstrapped); last_value: V of the state after the last step.
    delta_t = r_t + gamma V(s_{t+1}) (1 - done_t) - V(s_t);
    A_t = delta_t + gamma lam (1 - done_t) A_{t+1}. Returns A (T,) float64."""
    # BEGIN SOLUTION one backward pass; the next value is last_value after the final step;
    #   a done step neither bootstraps nor carries the next advantage back
    advantages = np.zeros(len(rewards))
    next_value, next_advantage = float(last_value), 0.0
    for t in reversed(range(len(rewards))):
        keep = 0.0 if dones[t] else 1.0
        delta = rewards[t] + gamma * next_value * keep - values[t]
        next_advantage = delta + gamma * lam * keep * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages
    # END SOLUTION


def ppo_clip_loss(new_log_probs, old_log_probs, advantages, clip=0.2):
    """PPO's clipped surrogate, as a loss to minimise:
    -mean(min(r A, clip(r, 1 - clip, 1 + clip) A)) with r = exp(new - old).
    old_log_probs and advantages are constants. (N,) tensors; returns a scalar."""
    # BEGIN SOLUTION ratio = exp(new - stop_gradient(old)); the elementwise minimum of the
    #   unclipped and clipped surrogates; minus the mean
    ratio = tf.exp(tf.cast(new_log_probs, tf.float32)
                   - tf.stop_gradient(tf.cast(old_log_probs, tf.float32)))
    advantages = tf.stop_gradient(tf.cast(advantages, tf.float32))
    clipped = tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip)
    return -tf.reduce_mean(tf.minimum(ratio * advantages, clipped * advantages))
    # END SOLUTION


# ---- REINFORCE with a baseline on CartPole (given code, except `reinforce_update`) ----------

def actor_critic_loss(logits, values, actions, returns, value_coef=0.5, entropy_coef=0.01):
    """The advantage actor-critic loss: the policy term is policy_gradient_loss on the
    advantages returns - values, detached (the critic learns from its own term only); plus
    value_coef times the critic's mean squared error to the returns; minus entropy_coef
    times the policy's mean entropy (a bonus that keeps it exploring). logits: (N, A) float;
    values, returns: (N,) float; actions: (N,) int. Returns a scalar."""
    # BEGIN SOLUTION advantages = stop_gradient(returns - values) into policy_gradient_loss;
    #   value term mean((returns - values)^2); entropy -sum_a p log p per sample, averaged
    logits = tf.cast(logits, tf.float32)
    values, returns = tf.cast(values, tf.float32), tf.cast(returns, tf.float32)
    advantages = tf.stop_gradient(returns - values)
    policy_loss = policy_gradient_loss(logits, actions, advantages)
    value_loss = tf.reduce_mean(tf.square(returns - values))
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    entropy = -tf.reduce_mean(tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1))
    return policy_loss + value_coef * value_loss - entropy_coef * entropy
    # END SOLUTION

def mlp(inputs, outputs, hidden=(32,), name=None):
    """A small tanh MLP, built."""
    model = keras.Sequential([keras.Input((inputs,))]
                             + [keras.layers.Dense(h, activation="tanh") for h in hidden]
                             + [keras.layers.Dense(outputs)], name=name)
    return model


def numpy_forward(model, x):
    """The MLP's output in numpy (a rollout calls the policy once per step: far faster than
    a Keras call)."""
    weights = model.get_weights()
    for index in range(0, len(weights), 2):
        x = x @ weights[index] + weights[index + 1]
        if index + 2 < len(weights):
            x = np.tanh(x)
    return x


def reinforce_update(policy, baseline, optimizer, observations, actions, rewards, gamma):
    """One REINFORCE-with-baseline update from ONE episode: returns-to-go, the baseline's
    values, the policy loss on advantages (returns minus baseline values) and the baseline's
    squared error to the returns, summed and minimised together in one optimizer step.
    Returns (policy_loss, baseline_loss) as floats."""
    returns = tf.constant(discounted_returns(rewards, gamma), tf.float32)
    variables = policy.trainable_variables + baseline.trainable_variables
    with tf.GradientTape() as tape:
        # BEGIN SOLUTION values = baseline(obs)[:, 0]; policy loss on (returns - values);
        #   baseline loss = mean squared error of values to the returns; sum them
        values = baseline(observations)[:, 0]
        policy_loss = policy_gradient_loss(policy(observations), actions, returns - values)
        baseline_loss = tf.reduce_mean(tf.square(returns - values))
        loss = policy_loss + baseline_loss
        # END SOLUTION
    optimizer.apply(tape.gradient(loss, variables), variables)
    return float(policy_loss), float(baseline_loss)


def run_episode(env, policy, rng, max_steps=500):
    """Sample one episode with the policy's softmax; (observations, actions, rewards)."""
    observations, actions, rewards = [], [], []
    obs, _ = env.reset(seed=int(rng.integers(2**31)))
    for _ in range(max_steps):
        logits = numpy_forward(policy, obs[None].astype(np.float32))[0]
        probs = np.exp(logits - logits.max())
        action = int(rng.choice(len(probs), p=probs / probs.sum()))
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    return (np.asarray(observations, np.float32), np.asarray(actions, np.int32),
            np.asarray(rewards, np.float64))


def train_reinforce(episodes, seed=0, gamma=0.99, learning_rate=1e-2, max_steps=500):
    """REINFORCE with a baseline on CartPole-v1; returns (policy, the return of each episode)."""
    import gymnasium as gym
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("CartPole-v1")
    env.action_space.seed(seed)
    policy, baseline = mlp(4, 2, name="policy"), mlp(4, 1, name="baseline")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(policy.trainable_variables + baseline.trainable_variables)
    episode_returns = []
    for _ in range(episodes):
        observations, actions, rewards = run_episode(env, policy, rng, max_steps)
        reinforce_update(policy, baseline, optimizer, observations, actions, rewards, gamma)
        episode_returns.append(float(rewards.sum()))
    env.close()
    return policy, np.asarray(episode_returns)
