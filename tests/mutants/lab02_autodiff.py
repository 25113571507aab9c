"""Mutants of lab02_autodiff: the slips of a first autodiff engine."""
from tests.mutants import Mutant

MUTANTS = [
    # Each operand multiplied by itself instead of by the other one.
    Mutant("mul_vjp_operands_not_swapped", "reverse.py",
           "vjps = (lambda g: g * b.value, lambda g: g * a.value)",
           "vjps = (lambda g: g * a.value, lambda g: g * b.value)",
           breaks=("vjp_arithmetic", "reverse_random_programs")),
    # Handles the axes numpy prepends, forgets the size-1 axes it stretched: a (3, 1)
    # operand gets a (3, 4) gradient.
    Mutant("unbroadcast_forgets_size_one_axes", "reverse.py",
           "    grad = np.sum(grad, axis=stretched, keepdims=True)\n",
           "",
           breaks=("unbroadcast", "reverse_random_programs")),
    # A value used twice keeps only the last use's gradient.
    Mutant("backward_overwrites_instead_of_adding", "reverse.py",
           "parent.grad += unbroadcast(",
           "parent.grad = unbroadcast(",
           breaks=("backward", "reverse_random_programs")),
    # Pre-order: a node is listed before its parents, so backward visits parents first,
    # before their gradients are complete.
    Mutant("topological_order_children_before_parents", "reverse.py",
           "        visited.add(id(node))\n        for parent in node.parents:\n"
           "            visit(parent)\n        order.append(node)\n",
           "        visited.add(id(node))\n        order.append(node)\n"
           "        for parent in node.parents:\n            visit(parent)\n",
           breaks=("topological_order", "backward", "reverse_random_programs",
                   "jacobian_reverse")),
    # The quotient rule without its second term: the denominator's tangent is ignored.
    Mutant("div_jvp_without_quotient_rule", "forward.py",
           "tangent = a.tangent / b.value - a.value * b.tangent / b.value ** 2",
           "tangent = a.tangent / b.value",
           breaks=("jvp_arithmetic", "forward_random_programs")),
    # tanh' = 1 - tanh, not 1 - tanh^2.
    Mutant("tanh_vjp_not_squared", "reverse.py",
           "vjps = (lambda g: g * (1 - out ** 2),)",
           "vjps = (lambda g: g * (1 - out),)",
           breaks=("vjp_elementwise", "reverse_random_programs")),
]
