#include "printer_channel.hpp"

#include <freerdp/channels/rdpdr.h>
#include <freerdp/client/printer.h>
#include <freerdp/settings.h>
#include <winpr/string.h>
#include <winpr/synch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace conduit::rdp::worker {

namespace {

void log(const std::string& line) {
  std::fprintf(stderr, "conduit-rdp-worker: printer: %s\n", line.c_str());
}

// Documents printing at once: a spooler sends one at a time per printer; more is a broken or
// hostile server, whose further jobs are refused (the target shows the queue as full).
constexpr std::size_t kMaxOpenJobs = kMaxPrintJobsAtOnce;

}  // namespace

struct PrinterChannel::Backend {
  // What FreeRDP gets: its driver struct first (it casts between the two), then the owner.
  struct Driver {
    rdpPrinterDriver driver;
    Backend* owner;
  } driver{};
  rdpPrinter printer{};
  std::string name{kPrinterName};
  std::string driverName{kPrinterDriver};
  PrinterChannel* channel = nullptr;

  struct Job {
    rdpPrintJob job{};
    std::uint64_t bytes = 0;  // what the target sent so far
    bool lost = false;        // a piece could not be queued
  };
  std::mutex mutex;
  std::map<std::uint32_t, std::unique_ptr<Job>> jobs;
  std::deque<Bytes> pending;

  // Under mutex: a frame for the broker, and the main loop woken.
  void queue(Bytes frame) {
    pending.push_back(std::move(frame));
    SetEvent(channel->event());
  }
};

namespace {

// The session's channel (one per worker process), for the backend FreeRDP loads.
PrinterChannel* g_channel = nullptr;

PrinterChannel::Backend& backendOf(rdpPrinterDriver* driver) {
  return *reinterpret_cast<PrinterChannel::Backend::Driver*>(driver)->owner;
}
PrinterChannel::Backend& backendOf(rdpPrinter* printer) {
  return backendOf(printer->backend);
}

// C trampolines: no exception may unwind into FreeRDP.
UINT writeJob(rdpPrintJob* job, const BYTE* data, size_t size) noexcept {
  auto& b = backendOf(job->printer);
  try {
    std::lock_guard lock(b.mutex);
    auto it = b.jobs.find(job->id);
    if (it == b.jobs.end()) return CHANNEL_RC_OK;
    auto& j = *it->second;
    const std::uint64_t before = j.bytes;
    j.bytes += size;
    // Past the limit the rest is dropped (print_end says so); the target still gets "written".
    std::size_t keep =
        before >= kMaxPrintJobBytes || j.lost
            ? 0
            : static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxPrintJobBytes - before));
    for (std::size_t at = 0; at < keep;) {
      const std::size_t n = std::min(keep - at, kMaxPrintChunkBytes);
      b.queue(encodePrintData(PrintData{job->id, Bytes(data + at, data + at + n)}));
      at += n;
    }
  } catch (...) {  // out of memory: the rest is lost, and print_end says the document is cut
    std::lock_guard lock(b.mutex);
    if (auto it = b.jobs.find(job->id); it != b.jobs.end()) it->second->lost = true;
  }
  return CHANNEL_RC_OK;
}

void closeJob(rdpPrintJob* job) noexcept {
  auto& b = backendOf(job->printer);
  std::lock_guard lock(b.mutex);
  auto it = b.jobs.find(job->id);
  if (it == b.jobs.end()) return;
  const std::uint64_t bytes = it->second->bytes;
  try {
    b.queue(encodePrintEnd(PrintEnd{job->id, bytes > kMaxPrintJobBytes || it->second->lost}));
  } catch (...) {
  }
  log("document " + std::to_string(job->id) + " printed: " + std::to_string(bytes) + " bytes");
  b.jobs.erase(it);  // frees `job`: FreeRDP does not use it after Close
}

rdpPrintJob* createJob(rdpPrinter* printer, UINT32 id) noexcept {
  auto& b = backendOf(printer);
  try {
    std::lock_guard lock(b.mutex);
    if (b.jobs.size() >= kMaxOpenJobs || b.jobs.count(id) != 0) return nullptr;
    auto j = std::make_unique<PrinterChannel::Backend::Job>();
    j->job.id = id;
    j->job.printer = printer;
    j->job.Write = writeJob;
    j->job.Close = closeJob;
    rdpPrintJob* out = &j->job;
    b.jobs.emplace(id, std::move(j));
    return out;
  } catch (...) {
    return nullptr;
  }
}

rdpPrintJob* findJob(rdpPrinter* printer, UINT32 id) noexcept {
  auto& b = backendOf(printer);
  std::lock_guard lock(b.mutex);
  auto it = b.jobs.find(id);
  return it == b.jobs.end() ? nullptr : &it->second->job;
}

void printerRef(rdpPrinter*) noexcept {}  // PrinterChannel owns the printer

rdpPrinter* getPrinter(rdpPrinterDriver* driver, const char* name, const char*) noexcept {
  auto& b = backendOf(driver);
  return name != nullptr && b.name == name ? &b.printer : nullptr;
}

rdpPrinter** enumPrinters(rdpPrinterDriver* driver) noexcept {
  // Only asked for when the device has no name, which ours always has.
  auto** list = static_cast<rdpPrinter**>(std::calloc(2, sizeof(rdpPrinter*)));
  if (list != nullptr) list[0] = &backendOf(driver).printer;
  return list;
}
void releaseEnumPrinters(rdpPrinter** printers) noexcept {
  std::free(printers);
}
void driverRef(rdpPrinterDriver*) noexcept {}

// FreeRDP's printer device calls this (as `printer_load_backend("conduit")`) for the driver.
rdpPrinterDriver* backendEntry() noexcept {
  return g_channel != nullptr ? &g_channel->backend().driver.driver : nullptr;
}

// FreeRDP's own printer device entry, and the rdpdr function it registers its device with.
PDEVICE_SERVICE_ENTRY g_deviceEntry = nullptr;
pcRegisterDevice g_registerDevice = nullptr;

// The server's printer configuration messages (PAKID_PRN_CACHE_DATA: add, update, rename,
// delete a printer's cached settings) are taken and dropped. FreeRDP's device would write each
// into the configuration directory, one directory per printer name the server chooses: a
// hostile server could fill the disk that way, and the session needs none of it.
UINT ignoreCacheData(DEVICE*, UINT16, UINT16, wStream*) noexcept {
  return CHANNEL_RC_OK;
}

UINT registerDevice(DEVMAN* devman, DEVICE* device) noexcept {
  if (device != nullptr) device->CustomComponentRequest = ignoreCacheData;
  return g_registerDevice != nullptr ? g_registerDevice(devman, device) : ERROR_INTERNAL_ERROR;
}

UINT deviceEntry(PDEVICE_SERVICE_ENTRY_POINTS points) noexcept {
  if (points == nullptr || g_deviceEntry == nullptr) return ERROR_INVALID_PARAMETER;
  DEVICE_SERVICE_ENTRY_POINTS own = *points;
  g_registerDevice = points->RegisterDevice;
  own.RegisterDevice = registerDevice;
  return g_deviceEntry(&own);
}

}  // namespace

void (*printerBackendEntry())() {
  return reinterpret_cast<void (*)()>(backendEntry);
}

AddinEntry printerDeviceEntry(AddinEntry builtIn) {
  g_deviceEntry = reinterpret_cast<PDEVICE_SERVICE_ENTRY>(builtIn);
  // Never FreeRDP's device without the wrapper (a plugin file it would look for next): without
  // a built-in one, the wrapper's entry fails and the target gets no printer.
  if (builtIn == nullptr) log("this FreeRDP has no built-in printer device; no printer offered");
  return reinterpret_cast<void (*)()>(deviceEntry);
}

PrinterChannel::PrinterChannel()
    : backend_(std::make_unique<Backend>()), event_(CreateEventA(nullptr, TRUE, FALSE, nullptr)) {
  auto& b = *backend_;
  b.channel = this;
  b.driver.owner = &b;
  b.driver.driver.EnumPrinters = enumPrinters;
  b.driver.driver.ReleaseEnumPrinters = releaseEnumPrinters;
  b.driver.driver.GetPrinter = getPrinter;
  b.driver.driver.AddRef = driverRef;
  b.driver.driver.ReleaseRef = driverRef;
  b.printer.id = 0;
  b.printer.name = b.name.data();
  b.printer.driver = b.driverName.data();
  // The target's default printer while the session lasts: "Print" on the HMI lands here.
  b.printer.is_default = TRUE;
  b.printer.backend = &b.driver.driver;
  b.printer.CreatePrintJob = createJob;
  b.printer.FindPrintJob = findJob;
  b.printer.AddRef = printerRef;
  b.printer.ReleaseRef = printerRef;
  g_channel = this;
}

PrinterChannel::~PrinterChannel() {
  if (g_channel == this) g_channel = nullptr;
  if (event_ != nullptr) CloseHandle(event_);
}

bool PrinterChannel::configure(rdpSettings* settings) const {
  // Owned by the settings once added: freed with free(), so allocated with calloc/strdup.
  auto* device = static_cast<RDPDR_PRINTER*>(std::calloc(1, sizeof(RDPDR_PRINTER)));
  if (device == nullptr) return false;
  device->Type = RDPDR_DTYP_PRINT;
  device->Name = _strdup(std::string(kPrinterName).c_str());
  // "<driver>:<backend>": FreeRDP's printer device loads the backend by that name.
  device->DriverName = _strdup((std::string(kPrinterDriver) + ":" + kPrinterBackendName).c_str());
  if (device->Name == nullptr || device->DriverName == nullptr ||
      !freerdp_device_collection_add(settings, reinterpret_cast<RDPDR_DEVICE*>(device))) {
    std::free(device->Name);
    std::free(device->DriverName);
    std::free(device);
    return false;
  }
  return freerdp_settings_set_bool(settings, FreeRDP_DeviceRedirection, TRUE) &&
         freerdp_settings_set_bool(settings, FreeRDP_RedirectPrinters, TRUE);
}

std::deque<Bytes> PrinterChannel::take() {
  std::lock_guard lock(backend_->mutex);
  std::deque<Bytes> out;
  out.swap(backend_->pending);
  ResetEvent(event_);
  return out;
}

}  // namespace conduit::rdp::worker
