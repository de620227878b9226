"""Multi-turn doctor–patient chats synthesized from MCQA vignettes (plain modules, no Dagster imports).

``selection`` picks the items, ``prompts`` builds the LLM request, ``validation`` checks every chat without a
model, ``synthesis`` runs the generate → validate → regenerate-with-feedback loop, ``tables`` turns the results
into the chats (canonical records with ``turns``) and the quarantine.
"""
