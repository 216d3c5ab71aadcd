Attribute VB_Name = "tgcheck"
' Import into the workbook's VBA project (Alt+F11 > File > Import File) and assign
' CheckSelection to a button. Needs the xlwings add-in (xlwings addin install).
Sub CheckSelection()
    RunPython "import tgcheck_udfs; tgcheck_udfs.check_selection()"
End Sub

' National numbers of one country, e.g. Turkey:
Sub CheckSelectionTR()
    RunPython "import tgcheck_udfs; tgcheck_udfs.check_selection(region='TR')"
End Sub
