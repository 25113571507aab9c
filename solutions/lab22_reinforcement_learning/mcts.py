"""Monte-Carlo tree search with PUCT on tic-tac-toe: the search of AlphaZero, with a uniform
prior and random-playout values standing in for the policy and value networks.

A board is a tuple of 9 ints (0 empty, 1 and -1 the players), cells numbered row by row.
The tic-tac-toe rules at the top are given code.
"""
import math

import numpy as np

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


def to_move(board):
    """The player whose turn it is: 1 moves first."""
    return 1 if sum(1 for c in board if c != 0) % 2 == 0 else -1


def winner(board):
    """1 or -1 for a completed line, 0 otherwise."""
    for a, b, c in LINES:
        if board[a] != 0 and board[a] == board[b] == board[c]:
            return board[a]
    return 0


def legal_moves(board):
    return [i for i, c in enumerate(board) if c == 0] if winner(board) == 0 else []


def play(board, move):
    cells = list(board)
    cells[move] = to_move(board)
    return tuple(cells)


def terminal_value(board):
    """None while the game goes on; else the result for the player TO MOVE (+1 win, -1 loss,
    0 draw): after a completed line the player to move has lost."""
    if winner(board) != 0:
        return -1.0
    return 0.0 if all(c != 0 for c in board) else None


def random_playout(board, rng):
    """The result of random play from `board`, for the player to move there."""
    sign = 1.0
    while (value := terminal_value(board)) is None:
        moves = legal_moves(board)
        board = play(board, moves[int(rng.integers(len(moves)))])
        sign = -sign
    return sign * value


def puct_scores(q, prior, child_visits, parent_visits, c_puct):
    """PUCT: Q(s, a) + c_puct * P(s, a) * sqrt(N(s)) / (1 + N(s, a)), elementwise over the
    children. q, prior, child_visits: (K,); parent_visits: a number. Returns (K,)."""
    # BEGIN SOLUTION the exploitation term q plus the prior-weighted exploration bonus
    q, prior, child_visits = (np.asarray(a, np.float64) for a in (q, prior, child_visits))
    return q + c_puct * prior * math.sqrt(parent_visits) / (1.0 + child_visits)
    # END SOLUTION


class Node:
    """A state's statistics. children: move -> Node; value_sum is from the point of view of
    the player who MOVED INTO this node (so a parent picks the child with the largest Q)."""

    def __init__(self, prior):
        self.prior = prior
        self.visits = 0
        self.value_sum = 0.0
        self.children = {}

    def q(self):
        return self.value_sum / self.visits if self.visits else 0.0


class MCTS:
    """PUCT search with a uniform prior over the legal moves and the mean of `playouts`
    random playouts as the leaf value; seeded."""

    def __init__(self, c_puct=1.5, playouts=1, seed=0):
        self.c_puct, self.playouts = c_puct, playouts
        self.rng = np.random.default_rng(seed)

    def evaluate(self, board):
        """The leaf's value for the player to move (given)."""
        value = terminal_value(board)
        if value is not None:
            return value
        return float(np.mean([random_playout(board, self.rng) for _ in range(self.playouts)]))

    def expand(self, node, board):
        moves = legal_moves(board)
        for move in moves:
            node.children[move] = Node(1.0 / len(moves))

    def select_child(self, node):
        """The (move, child) of largest PUCT score; ties to the lowest move."""
        moves = sorted(node.children)
        children = [node.children[m] for m in moves]
        scores = puct_scores([c.q() for c in children], [c.prior for c in children],
                             [c.visits for c in children], node.visits, self.c_puct)
        best = int(np.argmax(scores))
        return moves[best], children[best]

    def simulate(self, root, board):
        """One simulation: select down to a leaf, expand it, evaluate it, back the value up."""
        # BEGIN SOLUTION walk down with select_child while the node has children (play the
        #   moves); at the leaf: value = evaluate(board) (for the player to move there) and
        #   expand it unless the game is over; back up along the path: each node gets
        #   visits += 1 and value_sum += the value for the player who moved into it, which
        #   is -value at the leaf and flips sign at every level up
        path = [root]
        node = root
        while node.children:
            move, node = self.select_child(node)
            board = play(board, move)
            path.append(node)
        value = self.evaluate(board)
        if terminal_value(board) is None:
            self.expand(node, board)
        for visited in reversed(path):
            value = -value
            visited.visits += 1
            visited.value_sum += value
        # END SOLUTION

    def search(self, board, simulations):
        """Run the simulations from `board`; (the most visited move, visit counts (9,))."""
        root = Node(1.0)
        self.expand(root, board)
        for _ in range(simulations):
            self.simulate(root, board)
        counts = np.zeros(9, np.int64)
        for move, child in root.children.items():
            counts[move] = child.visits
        return int(np.argmax(counts)), counts
