"""The Skynet (天网) camera registry: GB/T 28181 IDs, camera records, events, history, import/export.

Functions take a SQLAlchemy ``Session``; they never create engines or read Flask state.
"""
