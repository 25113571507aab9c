# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 15b companion: Glow, IAF and MAF, reverse-KL fitting

# %%
import glow  # noqa: F401
import iaf  # noqa: F401
