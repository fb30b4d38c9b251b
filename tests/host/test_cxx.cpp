// host.h from C++: the interfaces are abstract classes with the vtable layout of the C structs,
// so a C++ runtime calls the C host with method syntax and the host calls a C++ callback.
#include <criterion/criterion.h>
#include <atomic>
#include "winvmem/host.h"

// Test hook of src/host: returns once the host thread finished an evaluation begun after it.
extern "C" void wvm__host_settle(IHostMemoryManager *host);

namespace
{

class Callback : public ICLRMemoryNotificationCallback
{
  public:
    std::atomic<uint32_t> refs{1};
    std::atomic<int> seen{0};
    std::atomic<int> last{0};
    HRESULT STDMETHODCALLTYPE QueryInterface(REFIID riid, void **ppv) override
    {
        if (riid.Data1 == IID_ICLRMemoryNotificationCallback.Data1) {
            *ppv = this;
            AddRef();
            return S_OK;
        }
        *ppv = nullptr;
        return E_NOINTERFACE;
    }
    uint32_t STDMETHODCALLTYPE AddRef() override
    {
        return ++refs;
    }
    uint32_t STDMETHODCALLTYPE Release() override
    {
        return --refs;
    }
    HRESULT STDMETHODCALLTYPE OnMemoryNotification(EMemoryAvailable level) override
    {
        last = level;
        ++seen;
        return S_OK;
    }
};

} // namespace

Test(host_cxx, method_calls_and_cpp_callback)
{
    IHostMemoryManager *h = nullptr;
    cr_assert_eq(wvm_host_create(nullptr, &h), S_OK);
    void *same = nullptr;
    cr_assert_eq(h->QueryInterface(IID_IHostMemoryManager, &same), S_OK);
    cr_assert_eq(same, h);
    h->Release();
    void *p = nullptr;
    cr_assert_eq(h->VirtualAlloc(nullptr, 65536, WVM_MEM_RESERVE | WVM_MEM_COMMIT,
                                 WVM_PAGE_READWRITE, eProcessCritical, &p),
                 S_OK);
    static_cast<char *>(p)[100] = 7;
    uint32_t load;
    size_t avail;
    cr_assert_eq(h->GetMemoryLoad(&load, &avail), S_OK);
    cr_assert_gt(avail, 0u);
    Callback cb;
    cr_assert_eq(h->RegisterMemoryNotificationCallback(&cb), S_OK);
    wvm__host_settle(h); /* the host thread has evaluated since the registration */
    cr_assert_gt(cb.seen.load(), 0);
    cr_assert_eq(cb.last.load(), eMemoryAvailableHigh);
    IHostMalloc *m = nullptr;
    cr_assert_eq(h->CreateMalloc(MALLOC_THREADSAFE, &m), S_OK);
    void *b = nullptr;
    cr_assert_eq(m->Alloc(40, eTaskCritical, &b), S_OK);
    cr_assert_eq(m->Free(b), S_OK);
    cr_assert_eq(m->Free(p), HOST_E_INVALIDOPERATION);
    m->Release();
    cr_assert_eq(h->VirtualFree(p, 0, WVM_MEM_RELEASE), S_OK);
    cr_assert_eq(h->Release(), 0u);
    cr_assert_eq(cb.refs.load(), 1u);
}
