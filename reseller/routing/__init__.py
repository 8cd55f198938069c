"""Measuring what each upstream service delivers and choosing among a service's candidates."""
