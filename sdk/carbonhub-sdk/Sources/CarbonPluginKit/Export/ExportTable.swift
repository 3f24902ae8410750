import CarbonDomain

/// One cell of an exported table: text or a number.
///
/// The distinction matters for both formats: numbers are written with the dialect's decimal
/// separator (CSV) or as numeric cells (xlsx), text is quoted as needed and, when it could be
/// read as a formula by a spreadsheet, neutralised (see ``CSVWriter``).
public enum ExportCell: Sendable, Equatable {
  /// A text cell, written exactly (after neutralisation of formula-like text in CSV).
  case text(String)
  /// A number; `decimals` fixes the digits after the separator, `nil` writes the shortest
  /// representation that reads back to the same `Double`. Must be finite.
  case number(Double, decimals: Int? = nil)
  /// An empty cell.
  case empty
}

extension ExportCell: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
  public init(stringLiteral value: String) { self = .text(value) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(integerLiteral value: Int) { self = .number(Double(value), decimals: 0) }
}

/// A named table (a CSV file, or one sheet of a workbook): a header row and data rows.
///
/// Rows may be shorter than the header (missing cells are empty); a row longer than the header
/// is a programming error that the writers report rather than silently cut.
public struct ExportTable: Sendable, Equatable {
  /// The sheet name in a workbook (Excel allows at most 31 characters and none of `[]:*?/\`;
  /// the workbook writer shortens and replaces as needed), or a label for a CSV file.
  public var name: String
  /// The column headers, written as the first row.
  public var header: [String]
  /// The data rows.
  public var rows: [[ExportCell]]

  /// A table with its name, header and rows.
  public init(name: String, header: [String], rows: [[ExportCell]] = []) {
    self.name = name
    self.header = header
    self.rows = rows
  }

  /// Appends one data row.
  public mutating func append(_ row: [ExportCell]) { rows.append(row) }

  /// The first row that has a non-finite number or more cells than the header, if any, as a
  /// message naming the table, the row (1 = first data row) and the column.
  func firstDefect() -> String? {
    for (index, row) in rows.enumerated() {
      if row.count > header.count {
        return "table \(name.quoted): row \(index + 1) has \(row.count) cells for \(header.count) columns"
      }
      for (column, cell) in row.enumerated() {
        if case .number(let value, _) = cell, !value.isFinite {
          return "table \(name.quoted): row \(index + 1), column \(header[column].quoted) is \(value)"
        }
      }
    }
    return nil
  }
}

/// Writing an export failed: the table has a non-finite number or a row longer than its header.
/// A module turns it into an INTERNAL error: an export never carries a wrong or silently cut value.
public struct ExportError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What is wrong, naming the table, row and column.
  public var description: String

  /// The error as the module's INTERNAL status.
  public var moduleError: ModuleError { .internal("export: \(description)") }
}
