"""The dev rounds of bench/robustness.py: every experiment's label, method and settings, and why it ran.

    >>> VARIANTS["kuda+stall3"]        # ("kuda", {... the settings on top of the method's frozen ones})

Never run on the test split. A round is declared here, in a commit, before it runs.
"""
# Dev experiments: label -> (method, settings on top of its frozen ones). Never run on the test split.
# The rule for KUDA's default, fixed before these ran on the six dev topics (choose_default below):
# eligible = dev prompts still answered <= 10% and the slowest dev topic <= 120 s; among the eligible, the
# highest mean of the five quality parts of dev_search.score plus (1 - 3-shot recovered) and (1 - question,
# 2 examples recovered); if none is eligible, the current default stays.
# Each variant pins what it was measured with (lr, augmentation, stall_boost) so that it stays the same run when the
# frozen default it builds on changes; "kuda" is the default of its time (the third round's: lr 1e-3, no
# augmentation), not re-run since.
VARIANTS = {"kuda+augment": ("kuda", {"augment": ("prefix", "kshot", "question"), "augment_copies": 2, "lr": 1e-3,
                                      "stall_boost": 1.0}),
            # lr pinned to 1e-3 (the frozen lr when it first ran): since lr 3e-3 was frozen it would otherwise
            # be the same run as kuda+augment1+lr3e-3, as the first try of the sixth round showed on capitals
            "kuda+augment1": ("kuda", {"augment": ("prefix", "kshot", "question"), "augment_copies": 1, "lr": 1e-3,
                                       "stall_boost": 1.0}),
            # added after the first three had run on languages, continents and opposites (augmentation left more
            # prompts answered there): a faster pace, alone (dev prompts 4% in dev_search) and with augmentation
            "kuda+lr3e-3": ("kuda", {"lr": 3e-3, "augment": (), "stall_boost": 1.0}),
            # stopped after capitals (205 s); run again on all six dev topics once a step trained only on the rows
            # of facts still answered and the augmented check ran only unanswered facts' rows (commit a5744d4),
            # under the same rule; the other candidates' dev results stay as they were measured.
            # Sixth round (declared before it ran): capitals took 140 s in that fourth round, but 110 s alone
            # after rows were cut after their focus (5008f84). This candidate and kuda+augment1 (the best dev
            # score, ineligible at 176 s on the code before narrowing) run again on the six dev topics, their
            # earlier dev results replaced; the rule is unchanged.
            "kuda+augment1+lr3e-3": ("kuda", {"augment": ("prefix", "kshot", "question"), "augment_copies": 1,
                                              "lr": 3e-3, "stall_boost": 1.0}),
            # fifth round (declared before it ran): the forget gradient is zero where a run starts, so the first
            # steps follow rounding; a seeded nudge of 1e-3 made the narrowed and the every-row runs on capitals
            # agree (1e-4 did not). It runs on the six dev topics next to the current default (kuda+lr3e-3), which
            # runs again with the current code so that both are measured on the same numerics.
            "kuda+jitter1e-3": ("kuda", {"lr": 3e-3, "start_jitter": 1e-3, "augment": (), "stall_boost": 1.0}),
            # seventh round (declared before it ran): the chosen default leaves facts answered at the 100-step cap
            # (dev: continents 3 of 10 from step 40 to step 200; test: four of six topics at the cap). Raising the
            # lr after two checks without fewer facts answered (forget.pace) keeps the gentle pace for the facts
            # that go and pushes harder where a run stalls. Two factors, on the six dev topics, same rule, applied
            # to this round's candidates only: --choose --candidates kuda+augment1,kuda+stall2,kuda+stall3. The
            # current default (kuda+augment1) runs again next to them: this machine's arithmetic differs from the
            # one the earlier rounds ran on (the unchanged default, run again on the test split here, moved per
            # topic, e.g. authors' neighbours 89% -> 33%; commit 61ba6ab gives the same here), so only runs made
            # on one machine are compared.
            "kuda+stall2": ("kuda", {"augment": ("prefix", "kshot", "question"), "augment_copies": 1, "lr": 1e-3,
                                     "stall_boost": 2.0}),
            "kuda+stall3": ("kuda", {"augment": ("prefix", "kshot", "question"), "augment_copies": 1, "lr": 1e-3,
                                     "stall_boost": 3.0}),
            # after the seventh round, a measurement of an option, not a candidate for the default in that session:
            # the lens target (rank >= 100 above the edit) misses only at the output, where a run that stops once
            # the answer is not top-1 leaves it a few ranks down. Forgotten = out of the top 100 instead.
            "kuda+rank100": ("kuda", {"augment": ("prefix", "kshot", "question"), "augment_copies": 1, "lr": 1e-3,
                                      "stall_boost": 3.0, "answer_rank": 100})}

# Eighth round (declared before it ran): the baselines tuned on the six dev topics the way KUDA is. Until now GA, GD,
# NPO and SimNPO were chosen on capitals only (lr 1e-4 against 3e-4, on an earlier machine; bench/dev_search.py) and
# RMU ran on its defaults. Each baseline runs at its frozen settings and at one alternative, on the six dev topics
# with the attacks, on one machine; KUDA's rule, per method, between its two (the first, the frozen one, stays when
# neither is eligible): --choose --candidates ga,ga+lr3e-5 (gd,gd+lr3e-5; npo,npo+lr1e-4; simnpo,simnpo+lr3e-4;
# rmu,rmu+alpha1000,rmu+alpha300). The alternatives:
# GA and GD forgot every capitals prompt at 1e-4 within the cap and 3e-4 lost there, so the untried side is a gentler
# lr (a run stops once its facts are forgotten); NPO at 1e-4, the gentler side of its 3e-4; SimNPO at 3e-4 and RMU
# with alpha 1000 (a heavier retain term), the two settings the first search declared and never ran.
VARIANTS.update({"ga+lr3e-5": ("ga", {"lr": 3e-5}), "gd+lr3e-5": ("gd", {"lr": 3e-5}),
                 "npo+lr1e-4": ("npo", {"lr": 1e-4}), "simnpo+lr3e-4": ("simnpo", {"lr": 3e-4}),
                 "rmu+alpha1000": ("rmu", {"alpha": 1000.0})})
# Added to the eighth round after RMU's two had run, before it ran: alpha 100 (the default) forgot every dev prompt and
# kept 0-11% of the neighbours; alpha 1000 kept 33-100% of them but left 57% of the prompts answered. The midpoint on
# a log scale, alpha 300, runs on the six dev topics under the same rule: --choose --candidates
# rmu,rmu+alpha1000,rmu+alpha300.
VARIANTS["rmu+alpha300"] = ("rmu", {"alpha": 300.0})

# Ninth round (declared before it ran, in a later session on the machine of the seventh and eighth: the default's run
# on capitals gave every figure and answer of its stored seventh-round run again). The fluent target is the widest
# miss (test 39% against 70%). In the second round the norm term (norm_weight: keep |v| / |v0| near 1) made the new
# answers much more fluent (dev 53-59% against 31%) but left 18-23% of the prompts answered, when a run still stopped
# at a fixed step count. Now a run goes on until its facts are forgotten and raises its pace where it stalls, so the
# same term runs on top of the current default, at the two weights of the second round, on the six dev topics with
# the attacks, same rule: --choose --candidates kuda+stall3,kuda+stall3+norm0.3,kuda+stall3+norm1.
VARIANTS.update({f"kuda+stall3+norm{w:g}": ("kuda", {**VARIANTS["kuda+stall3"][1], "norm_weight": w}) for w in (0.3, 1.0)})

# Tenth round (declared before it ran, same session and machine as the ninth): the neighbours target is the other
# wide miss (test 64% against 85%; on currencies the relation went with the facts). Two protections of retained
# knowledge that the first round measured under the old regime (a fixed step count, no augmentation, no stall boost)
# run again on top of the current default: a stricter null space (tau 0.01: fewer key directions count as free) and a
# heavier retain term (lam 10). Six dev topics with the attacks, same rule:
# --choose --candidates kuda+stall3,kuda+stall3+tau0.01,kuda+stall3+lam10.
VARIANTS.update({"kuda+stall3+tau0.01": ("kuda", {**VARIANTS["kuda+stall3"][1], "tau": 0.01}),
                 "kuda+stall3+lam10": ("kuda", {**VARIANTS["kuda+stall3"][1], "lam": 10.0})})
# Tenth round, as it ran: tau 0.01 scored best (0.783 against the default's 0.746) with 3% of the dev prompts answered,
# but its slowest topic, capitals, took 138 s, over the budget, and that run overlapped a minute of unit tests run on
# the same two cores (04:31-04:35). Declared before it runs: tau 0.01 runs again alone on capitals (the same settings
# and layers; the figures should repeat, the time is what is measured again), its capitals result is replaced, and the
# same rule is applied to the same three candidates, whatever it gives. lam 10 is not run again: 13% of the dev
# prompts answered makes it ineligible whatever its time.

# After the tenth round, a measurement of an option, not a candidate for the default in this session (declared before
# it ran): alternative_kl 1 on top of the current default, on capitals and languages, where the forgotten answers are
# numbers and quiz fragments ("The capital of Japan is 1000."). Does pulling the answer's next-token distribution
# towards the original's alternatives make the new answers fluent, and at what cost?
VARIANTS["kuda+tau0.01+altkl1"] = ("kuda", {**VARIANTS["kuda+stall3+tau0.01"][1], "alternative_kl": 1.0})

# A second measurement of an option, not a candidate for the default in this session (declared before it ran): the
# alternative term during the run made answers fluent (capitals 87%) but let the run stop while the representation had
# moved less (3-shot brought back 75%), and cost ~1 s a step. polish_steps 10 runs the deviation first, as the
# default does, then 10 steps of that term alone: do the answers become fluent while the attacks stay where the
# default leaves them? On top of the current default, on capitals and languages, as the option before it.
VARIANTS["kuda+polish10"] = ("kuda", {**VARIANTS["kuda+stall3+tau0.01"][1], "polish_steps": 10})

# Eleventh round (declared before it ran, in the session of the polish measurement). The default pushes every subject
# token; a subject's first tokens are often shared ("United", "South", "New", "Czech") and the last subject token is
# where causal tracing finds the fact. forget_tokens "subject_end" pushes the last subject token only (the same rows,
# cut at the same place, so about the same time): fewer neighbours and answers broken? The current default runs again
# next to it on the same machine and day (its times moved by up to 20% between days; bench/revision_speed.py), under
# the same rule, applied to these two only: --choose --candidates kuda+default11,kuda+subject_end.
VARIANTS["kuda+default11"] = ("kuda", dict(VARIANTS["kuda+stall3+tau0.01"][1]))
VARIANTS["kuda+subject_end"] = ("kuda", {**VARIANTS["kuda+stall3+tau0.01"][1], "forget_tokens": "subject_end"})

# Twelfth round (declared before it ran, session of 2026-12-07). The neighbours target is still missed (test 72%
# against 85%), sunk by currencies (layers 9-11, no neighbour kept). At tau 0.01 relative to the largest eigenvalue
# the default model's layers 2 and 8-11 protect almost nothing: one massive-activation key direction holds 36-100% of
# the retained keys' variance there (languages' retain keys: 1 of 1536 directions protected at layers 9 and 11, 8 at
# 10, 24 at 8), while layers 3-7 protect 345-595. The median eigenvalue is steady across layers (0.003-0.008): a tau
# times the median protects ~270-300 directions at every layer 2-14 with tau 2 and ~505-520 with tau 4 (about what
# tau 0.01 relative protects at layers 4-6, where the earlier rounds ran).
# [Corrected after the round ran: the two counts were swapped when this was written. tau 2 times the median protects
# ~505-520 directions at every layer (about what tau 0.01 relative protects at layers 4-6), tau 4 ~270-300. The
# candidates and the rule are as declared.] Both run on top of the current default, which
# runs again next to them on this machine and day (with reading on before stopping, the current code), on the six dev
# topics with the attacks, same rule, applied to these three only:
# --choose --candidates kuda+default12,kuda+median2,kuda+median4.
VARIANTS["kuda+default12"] = ("kuda", dict(VARIANTS["kuda+stall3+tau0.01"][1]))
VARIANTS.update({f"kuda+median{t:g}": ("kuda", {**VARIANTS["kuda+stall3+tau0.01"][1], "tau": t, "tau_mode": "median"})
                 for t in (2.0, 4.0)})
# Twelfth round, as it ran (six dev topics, this machine, alone on its two cores): the default scored best (0.792) but
# took 122 s on capitals, over the 120 s budget, so it is not eligible; median2 (0.778, slowest 105 s; the stricter of the two) is chosen over
# median4 (0.773, 119 s). The neighbours did not rise on dev (68% default, 65% median2, 67% median4; languages, layers
# 8-10, 25% for all three): the hypothesis behind the round did not hold there. median2 was frozen, then run once on
# the test topics.
