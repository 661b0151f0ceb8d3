"""The planning side of the office's dashboard (巡察工作概况): rounds, groups, assignments and
coverage of a term, a round or a jurisdiction."""
