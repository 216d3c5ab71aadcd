"""Excel face (xlwings UDFs and macro) over the tgcheck engine."""
