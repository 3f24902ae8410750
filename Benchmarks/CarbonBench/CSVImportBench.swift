import CarbonPluginLoader
import Foundation

// MARK: - COP pool: a large CSV import (issue 20 point 5)
//
// "Large text fields (a CSV in a string field) are parsed in linear time: a 20 MB COP CSV dry
// run took 81 s in a debug build — profile it in release and fix what is slow." The import is
// called through the dlopen'd libCOPVivier.so as the host calls it, as a dry run (parse, map,
// validate, qualify; nothing written), on files of a quarter, a half and all of `--csv-mb`
// megabytes: the seconds per megabyte stay flat when the import is linear.

/// One row of the pool's form export per project, the title made unique; about 250 bytes.
func copCSVRow(_ index: Int) -> String {
  let levers = ["Vélo", "Covoiturage", "Sobriété foncière", "Rénovation (tertiaire)", "Transports en commun"]
  let maturity = ["idée", "en cours de conception", "prêt à engager dans l'année"]
  return "\"Projet n°\(index), réseau \"\"cyclable\"\" et rénovation\",CC Somme Sud-Ouest,80,CC Somme Sud-Ouest,"
    + "\(levers[index % levers.count]),Covoiturage|Sobriété foncière,\(maturity[index % maturity.count]),"
    + "oui,oui,non,oui,oui,\(Double(index % 97) / 4)\n"
}

let copCSVHeader =
  "title,owner,department,epci,primary_lever,other_levers,maturity,owner_defined,next_steps_defined,"
  + "needs_defined,continues_action_under_way,replicable,expected_impact_kt_co2e_per_yr\n"

/// An ImportCsvRequest (cop.proto) as protobuf bytes, written by hand so that the benchmark
/// does not compile the module's messages: csv = 1, round_year = 2, dry_run = 4.
func copImportRequest(csv: String) -> [UInt8] {
  func varint(_ value: UInt64, into out: inout [UInt8]) {
    var value = value
    while value >= 0x80 {
      out.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    out.append(UInt8(value))
  }
  var bytes: [UInt8] = [0x0A]
  varint(UInt64(csv.utf8.count), into: &bytes)
  bytes += csv.utf8
  bytes += [0x10]
  varint(2024, into: &bytes)
  bytes += [0x20, 0x01]
  return bytes
}

func benchCSVImport() throws {
  let megabytes = option("--csv-mb", 20)
  report("## COP pool: CSV import, dry run (libCOPVivier.so through the ABI)")
  let library = try PluginLibrary(path: binDirectory + "/libCOPVivier.so")
  let state = NSTemporaryDirectory() + "/carbonhub-bench-cop-\(getpid())"
  try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: state) }
  let instance = try library.makeInstance(configJSON: "{}", dataDirectory: state)
  let method = "/carbon.cop.v1.CopVivier/ImportCsv"
  var previous: Double? = nil
  for fraction in [0.25, 0.5, 1.0] {
    let target = Int(megabytes * fraction * 1_048_576)
    var csv = copCSVHeader
    var rows = 0
    while csv.utf8.count < target {
      csv += copCSVRow(rows)
      rows += 1
    }
    let request = copImportRequest(csv: csv)
    let started = ContinuousClock.now
    let response = try instance.call(method, request: request)
    let seconds = (ContinuousClock.now - started).benchSeconds
    let size = Double(csv.utf8.count) / 1_048_576
    let perMegabyte = seconds / size
    let growth = previous.map { String(format: ", × %.2f the s/MB of the half-size file", perMegabyte / $0) } ?? ""
    report(
      String(
        format: "  %6.1f MB, %7d rows: %6.2f s, %7.0f rows/s, %.3f s/MB%@ (response %d B)", size, rows, seconds,
        Double(rows) / seconds, perMegabyte, growth, response.count))
    previous = perMegabyte
  }
}
