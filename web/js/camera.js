// A live viewfinder (getUserMedia) where the browser has one: the advisor shoots several photos of a
// mark without leaving the screen. Where it is missing or refused, the file input's camera is used.
import { h, toast } from './dom.js';

export const hasLiveCamera = () => !!navigator.mediaDevices?.getUserMedia && window.isSecureContext !== false;

/** Open the viewfinder; `onShot(blob)` for every press of the shutter. Resolves when it closes. */
export async function openCamera(onShot) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 2048 }, height: { ideal: 1536 } },
      audio: false,
    });
  } catch {
    toast('camera.unavailable', undefined, 'error');
    return false;
  }
  const video = h('video', { class: 'viewfinder', autoplay: true, playsinline: true, muted: true, 'data-testid': 'viewfinder' });
  video.srcObject = stream;
  const count = h('span', { class: 'count-pill', 'data-testid': 'shots' }, '0');
  let shots = 0;
  const shutter = h('button', {
    type: 'button',
    class: 'btn btn-primary btn-lg',
    t: 'camera.shoot',
    'data-testid': 'shutter',
    onclick: () => {
      if (!video.videoWidth) return;
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext('2d').drawImage(video, 0, 0);
      canvas.toBlob((blob) => {
        if (!blob) return;
        shots += 1;
        count.textContent = String(shots);
        onShot(blob);
      }, 'image/jpeg', 0.9);
    },
  });
  const done = h('button', { type: 'button', class: 'btn btn-ghost btn-lg', t: 'camera.done', 'data-testid': 'camera-done' });
  const dialog = h('dialog', { class: 'dialog camera-dialog', 'data-testid': 'camera-dialog' }, video, h('div', { class: 'dialog-actions' }, count, done, shutter));
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    const close = () => {
      stream.getTracks().forEach((track) => track.stop()); // the camera light goes off at once
      dialog.remove();
      resolve(true);
    };
    done.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', close);
  });
}
