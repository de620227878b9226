"""Turning the training and evaluation jobs' reports into the tables the Dagster assets show."""
