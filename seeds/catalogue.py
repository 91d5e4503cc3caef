"""The reason catalogue and standard questions live in the protocol (both sides need them);
seeds and tests import them from here as before."""

from server_sync.protocol.catalogue import (CUSTOMER_REASONS, EMPLOYEE_REASONS, QUESTIONS, REASONS,
                                            default_questions)

__all__ = ["REASONS", "CUSTOMER_REASONS", "EMPLOYEE_REASONS", "QUESTIONS", "default_questions"]
