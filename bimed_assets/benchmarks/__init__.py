"""Arabic and bilingual MCQA benchmarks: the evaluation splits translated, every Arabic item verified by a person.

``selection`` says which evaluation items make up each benchmark, ``translations`` turns the translation loop's
results into one row per item and into review-queue records (all of them, accepted or not), and ``frame``
builds the evaluation input from those rows and the reviewers' decisions.
"""
