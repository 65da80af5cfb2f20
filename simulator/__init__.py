"""shiftsim: rehearse Lambda traffic-shifting deployments under Amazon Connect contact-center load."""

__version__ = "0.1.0"
