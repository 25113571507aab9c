"""Checks of lab21_explainability (explaining models): the graded modules are gradients.py
(vanilla gradients, saliency maps, SmoothGrad, guided backpropagation, integrated gradients
and completeness) and shapley.py (the masked value function, exact Shapley values, the
Monte-Carlo permutation estimate, Kernel SHAP).

probes.py: the helpers and stand-ins the checks share (check-defined models with known
gradients, crafted games, Shapley values by averaging over every order).
public.py: the gradient methods. SmoothGrad and integrated gradients run on a stand-in
input_gradients (the exact gradient of a check-defined sine model), guided_backprop on a
stand-in guided_relu (softplus), so each is graded on its own lines.
public_shapley.py: the Shapley tasks, against the average over all orders of small games,
the axioms on crafted games, and the stored reference.
hidden.py: fresh shapes and games; guided backpropagation against its definition on a tiny
network; Kernel SHAP against shap.KernelExplainer on the same model and background.
No model here overrides train_step, so there are no readiness checks.
"""
MODULES = ("gradients", "shapley")
