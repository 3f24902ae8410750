import CarbonDomain
import CarbonPluginKit

/// A validated calendar date, comparable, for the calendar rules.
struct SimpleDate: Comparable, Hashable, Sendable, CustomStringConvertible {
  let year: Int
  let month: Int
  let day: Int

  /// The dates the methodology can meaningfully talk about.
  static let validYears = 1950...2100

  init(year: Int, month: Int, day: Int) {
    self.year = year
    self.month = month
    self.day = day
  }

  /// Validates a request date; INVALID_ARGUMENT naming `field` when absent or impossible.
  init(_ date: CalendarDate?, field: String) throws(ModuleError) {
    guard let date else { throw .invalidArgument(field, "is required") }
    try Check.inRange(Int(date.year), Self.validYears, "\(field).year")
    try Check.inRange(Int(date.month), 1...12, "\(field).month")
    let last = Self.daysInMonth(year: Int(date.year), month: Int(date.month))
    try Check.inRange(Int(date.day), 1...last, "\(field).day")
    self.init(year: Int(date.year), month: Int(date.month), day: Int(date.day))
  }

  /// Days in a month of the proleptic Gregorian calendar.
  static func daysInMonth(year: Int, month: Int) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  /// The same day `years` later (29 February becomes 28 February in a common year).
  func addingYears(_ years: Int) -> SimpleDate {
    let newYear = year + years
    return SimpleDate(year: newYear, month: month, day: min(day, Self.daysInMonth(year: newYear, month: month)))
  }

  /// The same day `months` later (clamped to the month's last day).
  func addingMonths(_ months: Int) -> SimpleDate {
    let index = year * 12 + (month - 1) + months
    let newYear = index / 12, newMonth = index % 12 + 1
    return SimpleDate(year: newYear, month: newMonth, day: min(day, Self.daysInMonth(year: newYear, month: newMonth)))
  }

  /// 31 December of a year.
  static func endOfYear(_ year: Int) -> SimpleDate { SimpleDate(year: year, month: 12, day: 31) }
  /// 1 January of a year.
  static func startOfYear(_ year: Int) -> SimpleDate { SimpleDate(year: year, month: 1, day: 1) }

  /// The wire form.
  var calendarDate: CalendarDate {
    var date = CalendarDate()
    date.year = Int32(year)
    date.month = Int32(month)
    date.day = Int32(day)
    return date
  }

  static func < (a: SimpleDate, b: SimpleDate) -> Bool {
    (a.year, a.month, a.day) < (b.year, b.month, b.day)
  }

  var description: String {
    let m = month < 10 ? "0\(month)" : "\(month)"
    let d = day < 10 ? "0\(day)" : "\(day)"
    return "\(year)-\(m)-\(d)"
  }
}
