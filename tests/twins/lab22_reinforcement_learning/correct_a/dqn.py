"""Deep Q-learning: a replay buffer, TD targets from a target network, and a DQN written as a
keras.Model whose `train_step` takes one replay batch.

A replay batch is a dict of arrays: obs (B, D) float32, actions (B,) int32, rewards (B,)
float32, next_obs (B, D) float32, dones (B,) float32 (1.0 where the episode ended).
"""
import keras
import numpy as np
import tensorflow as tf


class ReplayBuffer:
    """A ring buffer of the last `capacity` transitions, sampled uniformly with replacement
    by its own seeded generator."""

    def __init__(self, capacity, obs_dim, seed=0):
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.size = 0      # how many slots hold a transition
        self.next = 0      # the slot the next transition goes to
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.size

    def add(self, obs, action, reward, next_obs, done):
        """Store one transition, overwriting the oldest once the buffer is full."""
        i = self.next
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.dones[i] = done
        self.next = (self.next + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        """A replay batch (the dict above) of `batch_size` stored transitions, drawn uniformly
        with replacement from the filled slots only."""
        idx = self.rng.integers(0, self.size, batch_size)
        return {"obs": self.obs[idx], "actions": self.actions[idx], "rewards": self.rewards[idx],
                "next_obs": self.next_obs[idx], "dones": self.dones[idx]}


def td_targets(rewards, next_q, dones, gamma):
    """y = r + gamma * (1 - done) * max_a' Q_target(s', a'). next_q: (B, A) from the TARGET
    network; rewards, dones: (B,). Returns (B,) float32 tensor."""
    next_q = tf.cast(next_q, tf.float32)
    rewards = tf.cast(rewards, tf.float32)
    dones = tf.cast(dones, tf.float32)
    return rewards + gamma * (1.0 - dones) * tf.reduce_max(next_q, axis=1)


def q_network(obs_dim, num_actions, hidden=(64, 64), name=None):
    """An MLP from observations to one Q-value per action (given)."""
    return keras.Sequential([keras.Input((obs_dim,))]
                            + [keras.layers.Dense(h, activation="relu") for h in hidden]
                            + [keras.layers.Dense(num_actions)], name=name)


@keras.saving.register_keras_serializable(package="lab22")
class DQN(keras.Model):
    """An online Q-network trained on replay batches by the Huber TD loss, and a target
    network that follows it by Polyak averaging after every step:
    target <- tau * online + (1 - tau) * target (with the online weights after the step)."""

    def __init__(self, obs_dim, num_actions, hidden=(64, 64), gamma=0.99, tau=0.01, **kwargs):
        super().__init__(**kwargs)
        self.obs_dim, self.num_actions = int(obs_dim), int(num_actions)
        self.hidden, self.gamma, self.tau = tuple(hidden), float(gamma), float(tau)
        self.online = q_network(obs_dim, num_actions, hidden, name="online")
        self.target = q_network(obs_dim, num_actions, hidden, name="target")
        self.target.trainable = False
        self.target.set_weights(self.online.get_weights())
        self.huber = keras.losses.Huber()
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, obs):
        return self.online(obs)

    def sync_target(self, tau):
        """target <- tau * online + (1 - tau) * target, weight by weight (tau=1 copies)."""
        for target, online in zip(self.target.weights, self.online.weights):
            target.assign(tau * online + (1.0 - tau) * target)

    def train_step(self, data):
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        next_q = tf.cast(self.target(batch["next_obs"], training=False), tf.float32)
        targets = tf.stop_gradient(td_targets(batch["rewards"], next_q, batch["dones"], self.gamma))
        with tf.GradientTape() as tape:
            q = tf.cast(self.online(batch["obs"], training=True), tf.float32)
            actions = tf.cast(batch["actions"], tf.int32)
            q_taken = tf.gather(q, actions, axis=1, batch_dims=1)
            loss = self.huber(targets, q_taken)
            scaled = self.optimizer.scale_loss(loss)
        variables = self.online.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        self.sync_target(self.tau)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        config = super().get_config()
        config.update(obs_dim=self.obs_dim, num_actions=self.num_actions,
                      hidden=list(self.hidden), gamma=self.gamma, tau=self.tau)
        return config
