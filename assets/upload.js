// Large frames: the "Send a large file" button opens a file chooser and sends
// the file to the server's /upload route as one streamed request body
// (dcc.Upload would hold it base64-encoded in browser memory and silently drop
// it above its size limit), then hands the server's answer to the page's
// "streamed-upload" store, which the frame callback reads.
async function sendLargeFile(file) {
  const status = document.getElementById("big-upload-status");
  const say = (text) => { if (status) { status.textContent = text; } };
  say(`Sending ${file.name} (${(file.size / 2 ** 20).toFixed(1)} MB)…`);
  let answer;
  try {
    const response = await fetch(`/upload?name=${encodeURIComponent(file.name)}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: file,
    });
    answer = await response.json();
  } catch (err) {
    answer = { meta: null, message: `${file.name}: the upload failed (${err.message}); please try again` };
  }
  say("");
  window.dash_clientside.set_props("streamed-upload", { data: { ...answer, sent: Date.now() } });
}

document.addEventListener("click", (event) => {
  if (!event.target.closest("#big-upload-button")) {
    return;
  }
  const chooser = document.createElement("input");
  chooser.type = "file";
  chooser.addEventListener("change", () => {
    if (chooser.files.length) {
      sendLargeFile(chooser.files[0]);
    }
  });
  chooser.click();
});
