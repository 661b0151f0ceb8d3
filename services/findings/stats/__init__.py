"""Figures of the findings (问题统计) for the office's dashboard and reports."""
