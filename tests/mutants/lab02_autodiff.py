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
           breaks=("backward", "reverse_random_programs"), says="each use must add"),
    # Pre-order: a node is listed before its parents, so backward visits parents first,
    # before their gradients are complete.
    Mutant("topological_order_children_before_parents", "reverse.py",
           "        visited.add(id(node))\n        for parent in node.parents:\n"
           "            visit(parent)\n        order.append(node)\n",
           "        visited.add(id(node))\n        order.append(node)\n"
           "        for parent in node.parents:\n            visit(parent)\n",
           breaks=("topological_order", "reverse_random_programs")),
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
    # At exactly 0 the gradient leaks through the kink (TensorFlow takes 0 there).
    Mutant("relu_vjp_passes_zero_inputs", "reverse.py",
           "vjps = (lambda g: g * (a.value > 0),)",
           "vjps = (lambda g: g * (a.value >= 0),)",
           breaks=("vjp_elementwise",), says="relu"),
    Mutant("relu_jvp_passes_zero_inputs", "forward.py",
           "tangent = a.tangent * (a.value > 0)",
           "tangent = a.tangent * (a.value >= 0)",
           breaks=("jvp_elementwise",), says="relu"),
    # A second backward on the same tape (one per row of a Jacobian) adds to the first's.
    Mutant("backward_never_resets_grads", "reverse.py",
           "    for node in order:\n        node.grad = np.zeros(node.shape)\n",
           "    for node in order:\n        if node.grad is None:\n"
           "            node.grad = np.zeros(node.shape)\n",
           breaks=("backward",), says="reset every grad to zero"),
    # A broadcast operand's gradient keeps the output's shape.
    Mutant("backward_without_unbroadcast", "reverse.py",
           "parent.grad += unbroadcast(parent_vjp(node.grad), parent.shape)",
           "parent.grad = parent.grad + parent_vjp(node.grad)",
           breaks=("backward", "reverse_random_programs"), says="unbroadcast"),
    # The first contribution is stored as it is (possibly the child's own grad, when a VJP
    # returns g), and later ones are added in place: another node's gradient changes.
    Mutant("backward_adds_in_place_into_stored_vjp_results", "reverse.py",
           "    for node in order:\n        node.grad = np.zeros(node.shape)\n"
           "    output.grad = np.array(seed, dtype=np.float64)\n"
           "    for node in reversed(order):\n"
           "        for parent, parent_vjp in zip(node.parents, node.vjps):\n"
           "            parent.grad += unbroadcast(parent_vjp(node.grad), parent.shape)\n",
           "    for node in order:\n        node.grad = None\n"
           "    output.grad = np.array(seed, dtype=np.float64)\n"
           "    for node in reversed(order):\n"
           "        for parent, parent_vjp in zip(node.parents, node.vjps):\n"
           "            contribution = unbroadcast(parent_vjp(node.grad), parent.shape)\n"
           "            if parent.grad is None:\n"
           "                parent.grad = contribution\n"
           "            else:\n"
           "                parent.grad += contribution\n",
           breaks=("backward", "reverse_random_programs"), says="in place|read-only"),
]
