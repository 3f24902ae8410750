import CarbonDomain
import Testing

@Suite("Reference tables: trimming of comment lines")
struct ReferenceTableTrimmingTests {
  @Test(arguments: [
    ("  a b\t", "a b"), ("\t\tx", "x"), ("y  ", "y"), ("", ""), ("   \t ", ""), ("é  ", "é"),
    (" source: ADEME, 2024 ", "source: ADEME, 2024"), ("no padding", "no padding"),
  ])
  func trimmingSpacesRemovesOnlyOuterSpacesAndTabs(input: String, expected: String) {
    #expect(input.trimmingSpaces() == expected)
    #expect(input[...].trimmingSpaces() == expected, "same on a Substring")
  }

  @Test func commentLinesAreTrimmedAndBlankLinesSkipped() throws {
    let table = try ReferenceTable(csv: "# version:  2 \n#\t source: x\n  \t\ncode,value\na,1\n")
    #expect(table.comments == ["version:  2", "source: x"])
    #expect(table.columns == ["code", "value"])
    #expect(table.rows == [["a", "1"]])
  }
}

@Suite("XML text for the modules' SVG charts")
struct XMLTextTests {
  @Test func theFiveSpecialCharactersBecomeEntitiesAndTheRestIsKept() {
    #expect(#"Pays de Loire & <Vendée> "A" l'ouest"#.xmlEscaped == "Pays de Loire &amp; &lt;Vendée&gt; &quot;A&quot; l&apos;ouest")
    #expect("12 345,6".xmlEscaped == "12 345,6")
    #expect("".xmlEscaped == "")
  }
}
